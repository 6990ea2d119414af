"""Profile pictures: any accepted image becomes a small, upright, square WebP with none of
the original's metadata, stored under a new name that is served with a long cache, and a
new picture replaces the old one."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from livechat.accounts.avatars import AVATAR_PIXELS, process_avatar
from livechat.accounts.models import User
from livechat.db import Database
from livechat.errors import BadRequest
from livechat.settings import Settings
from tests.helpers import csrf_token, log_in

RED, GREEN, BLUE = (220, 20, 20), (20, 220, 20), (20, 20, 220)
MAKE, MODEL, ORIENTATION, GPS_IFD = 0x010F, 0x0110, 0x0112, 0x8825
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def encoded(picture: Image.Image, pillow_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=pillow_format, **options)
    return buffer.getvalue()


def stripes(size: tuple[int, int], *colours: tuple[int, int, int]) -> Image.Image:
    """An image of equal vertical stripes, left to right."""
    picture = Image.new("RGB", size)
    width = size[0] // len(colours)
    for n, colour in enumerate(colours):
        picture.paste(colour, (n * width, 0, (n + 1) * width, size[1]))
    return picture


def photo_with_exif(orientation: int = 1) -> bytes:
    """A JPEG such as a phone takes: camera make and model, location, orientation."""
    exif = Image.Exif()
    exif[MAKE] = "Snoopy Camera Co."
    exif[MODEL] = "Pocket 3000"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (51.0, 30.0, 12.5)
    return encoded(stripes((200, 100), RED, BLUE), "JPEG", exif=exif.tobytes(), quality=95)


def colour_at(picture: Image.Image, xy: tuple[int, int]) -> str:
    """Which of red, green or blue dominates a pixel (lossy encoding shifts exact values)."""
    red, green, blue = picture.convert("RGB").getpixel(xy)  # type: ignore[misc]
    return max(("red", red), ("green", green), ("blue", blue), key=lambda named: named[1])[0]


def opened(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


# Processing


@pytest.mark.parametrize("pillow_format", ["PNG", "JPEG", "GIF", "WEBP"])
def test_an_accepted_image_becomes_a_small_square_webp(pillow_format: str) -> None:
    avatar = opened(process_avatar(encoded(stripes((300, 200), RED), pillow_format)))

    assert avatar.format == "WEBP"
    assert avatar.size == (AVATAR_PIXELS, AVATAR_PIXELS) == (128, 128)


def test_an_avatar_keeps_none_of_the_photos_metadata() -> None:
    photo = photo_with_exif()
    assert opened(photo).getexif()[MAKE] == "Snoopy Camera Co."  # the premise

    data = process_avatar(photo)

    avatar = opened(data)
    assert avatar.format == "WEBP"
    assert avatar.size == (128, 128)
    assert len(avatar.getexif()) == 0
    assert "exif" not in avatar.info
    assert b"Snoopy" not in data
    assert b"Pocket 3000" not in data


def test_a_photo_taken_sideways_is_turned_upright() -> None:
    # Stored red on the left and blue on the right, with "rotate 90° clockwise to view":
    # upright, red is on top and blue at the bottom.
    avatar = opened(process_avatar(photo_with_exif(orientation=6)))

    for x in (32, 96):
        assert colour_at(avatar, (x, 16)) == "red"
        assert colour_at(avatar, (x, 112)) == "blue"


def test_a_wide_picture_is_cropped_to_its_centre_square() -> None:
    wide = encoded(stripes((300, 100), RED, GREEN, BLUE), "PNG")

    avatar = opened(process_avatar(wide))

    assert avatar.size == (128, 128)
    corners = [(2, 2), (125, 2), (2, 125), (125, 125), (64, 64)]
    assert [colour_at(avatar, xy) for xy in corners] == ["green"] * len(corners)


def test_a_tall_picture_is_cropped_to_its_centre_square() -> None:
    bands = stripes((300, 100), RED, GREEN, BLUE).rotate(90, expand=True)  # green in between
    assert bands.size == (100, 300)

    avatar = opened(process_avatar(encoded(bands, "PNG")))

    assert avatar.size == (128, 128)
    corners = [(2, 2), (125, 2), (2, 125), (125, 125), (64, 64)]
    assert [colour_at(avatar, xy) for xy in corners] == ["green"] * len(corners)


def test_a_jpeg_carrying_a_second_picture_as_cameras_and_phones_write_is_accepted() -> None:
    # Many cameras and phones append a second picture (a large preview, a depth or gain
    # map) in the Multi-Picture Format: still a plain .jpg to every browser and viewer,
    # but Pillow reports its format as "MPO" rather than "JPEG".
    photo = io.BytesIO()
    main, extra = stripes((200, 100), RED), stripes((200, 100), BLUE)
    main.save(photo, format="MPO", save_all=True, append_images=[extra])

    avatar = opened(process_avatar(photo.getvalue()))

    assert avatar.size == (128, 128)
    assert colour_at(avatar, (64, 64)) == "red"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(PDF, id="pdf"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', id="svg"),
        pytest.param(b"just some text\n", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(photo_with_exif()[:400], id="truncated-jpeg"),
    ],
)
def test_a_file_that_is_not_a_readable_image_is_refused(data: bytes) -> None:
    with pytest.raises(BadRequest, match=re.escape("That file is not an image we can read.")):
        process_avatar(data)


def test_an_image_in_another_format_is_refused() -> None:
    bitmap = encoded(stripes((64, 64), RED), "BMP")

    with pytest.raises(BadRequest, match=re.escape("Avatars can be JPG, PNG, GIF or WebP images.")):
        process_avatar(bitmap)


def test_an_image_with_too_many_pixels_is_refused_before_it_is_decoded() -> None:
    huge = encoded(Image.new("1", (8000, 5001)), "PNG")  # 40 million pixels in a few KB

    with pytest.raises(BadRequest, match="too many pixels"):
        process_avatar(huge)


# Changing one's picture over HTTP


async def send_avatar(
    client: httpx.AsyncClient, token: str, filename: str, data: bytes, content_type: str
) -> httpx.Response:
    return await client.post(
        "/profile/avatar",
        files={"avatar": (filename, data, content_type)},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )


async def signed_in(client: httpx.AsyncClient, user: User) -> str:
    await log_in(client, user)
    return await csrf_token(client, "/profile")


async def avatar_url(db: Database, user: User) -> str | None:
    async with db.read() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        return stored.avatar_url


def avatar_files(settings: Settings) -> list[Path]:
    folder = settings.uploads_dir / "avatars"
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_a_new_picture_becomes_the_avatar_served_under_a_random_name_with_a_long_cache(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    token = await signed_in(client, alice)

    response = await send_avatar(client, token, "me.jpg", photo_with_exif(), "image/jpeg")

    assert response.status_code == 204
    assert response.headers["hx-redirect"] == "/profile?saved=avatar"
    url = await avatar_url(db, alice)
    assert url is not None
    assert re.fullmatch(r"/avatars/[0-9a-f]{32}\.webp", url)
    served = await client.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert opened(served.content).size == (128, 128)
    assert b"Snoopy" not in served.content
    profile = (await client.get("/profile?saved=avatar")).text
    assert "Your new picture is in place." in profile
    assert f'src="{url}"' in profile


async def test_a_second_picture_replaces_the_first_whose_file_is_deleted(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User
) -> None:
    token = await signed_in(client, alice)
    await send_avatar(client, token, "red.png", encoded(stripes((64, 64), RED), "PNG"), "image/png")
    first = await avatar_url(db, alice)

    response = await send_avatar(
        client, token, "blue.png", encoded(stripes((64, 64), BLUE), "PNG"), "image/png"
    )

    assert response.status_code == 204
    second = await avatar_url(db, alice)
    assert first is not None
    assert second is not None
    assert second != first
    assert (await client.get(first)).status_code == 404
    replacement = await client.get(second)
    assert colour_at(opened(replacement.content), (64, 64)) == "blue"
    assert [f"/avatars/{path.name}" for path in avatar_files(settings)] == [second]


async def test_a_pdf_is_refused_as_an_avatar_with_a_message(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User
) -> None:
    token = await signed_in(client, alice)

    response = await send_avatar(client, token, "cv.pdf", PDF, "application/pdf")

    assert response.status_code == 400
    assert "That file is not an image we can read." in response.text
    assert await avatar_url(db, alice) is None
    assert avatar_files(settings) == []


async def test_a_refused_picture_leaves_the_current_avatar_in_place(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User
) -> None:
    token = await signed_in(client, alice)
    await send_avatar(client, token, "red.png", encoded(stripes((64, 64), RED), "PNG"), "image/png")
    current = await avatar_url(db, alice)

    response = await send_avatar(client, token, "logo.svg", b"<svg/>", "image/svg+xml")

    assert response.status_code == 400
    assert await avatar_url(db, alice) == current
    assert current is not None
    assert (await client.get(current)).status_code == 200


async def test_an_avatar_body_over_the_upload_limit_is_refused_with_413(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User
) -> None:
    token = await signed_in(client, alice)
    too_big = settings.upload_max_bytes + 128 * 1024  # past the file and its envelope

    response = await send_avatar(client, token, "huge.png", b"\0" * too_big, "image/png")

    assert response.status_code == 413
    assert "a request may carry" in response.text
    assert await avatar_url(db, alice) is None
    assert avatar_files(settings) == []


async def test_an_avatar_upload_without_a_file_asks_for_one(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    token = await signed_in(client, alice)

    response = await client.post(
        "/profile/avatar",
        files={"something-else": ("me.png", b"x", "image/png")},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )

    assert response.status_code == 400
    assert "Choose a file first." in response.text
    assert await avatar_url(db, alice) is None


async def test_an_avatar_upload_without_the_csrf_header_is_refused(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User
) -> None:
    await log_in(client, alice)

    response = await client.post(
        "/profile/avatar",
        files={"avatar": ("me.png", encoded(stripes((64, 64), RED), "PNG"), "image/png")},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 403
    assert await avatar_url(db, alice) is None
    assert avatar_files(settings) == []


@pytest.mark.parametrize(
    "name", ["..%2F..%2Fetc%2Fpasswd", "me.png", "0" * 32 + ".webp", "0" * 32 + ".webp.exe"]
)
async def test_an_avatar_name_that_is_malformed_or_unknown_is_not_found(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.get(f"/avatars/{name}")

    assert response.status_code == 404
