"""Sharing images and documents between two Chromium windows: several files at once, each
attachment at its own size, refusals that say why and go away, and the limits said before
anything is chosen."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Page, expect

from livechat.settings import Settings
from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import composer, create_room, join_room, register
from tests.live import serving

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"
MB = 1024 * 1024
FILE_FIELD = "#upload-form input[type=file]"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def plain_png(path: Path, size: tuple[int, int]) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", size, (79, 70, 229)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def fake_image(path: Path) -> Path:
    path.write_bytes(b"MZ\x90\x00" + bytes(200))
    return path


def noisy_png(path: Path, side: int) -> Path:
    """A PNG that does not compress, so that uploading it takes measurable time."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_an_image_and_a_pdf_are_uploaded_with_progress_previewed_and_seen_by_others(
    open_window: OpenWindow, live_server: str, tmp_path: Path
) -> None:
    photo = noisy_png(tmp_path / "photo.png", 700)  # about 1.5 MB
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    alice, bob = await open_window(), await open_window()
    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    await create_room(alice, "Design")
    await join_room(bob, "Design")

    # A slow uplink, so the progress bar has time to be seen moving.
    network = await alice.context.new_cdp_session(alice)
    await network.send("Network.enable")
    await network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 500_000},
    )
    await alice.set_input_files("#upload-form input[type=file]", photo)
    progress = alice.locator("#upload-form progress")
    await expect(progress).to_be_visible()
    await expect(progress).not_to_have_attribute("value", "0")
    await expect(alice.locator("#upload-previews .upload-preview")).to_contain_text("photo.png")
    await network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    await alice.set_input_files("#upload-form input[type=file]", plan)
    await expect(alice.locator("#upload-previews .upload-preview")).to_have_count(2)
    await composer(alice).fill("The mock-up and the plan")
    await composer(alice).press("Enter")

    shared = bob.locator("#messages article").last
    await expect(shared).to_contain_text("The mock-up and the plan")
    image = shared.locator("img[loading=lazy]")
    await expect(image).to_have_attribute("width", "700")
    await expect(image).to_have_js_property("complete", True)
    await expect(image).to_have_js_property("naturalWidth", 700)  # loaded, not broken
    await expect(shared.get_by_role("link", name="plan.pdf")).to_have_attribute(
        "download", "plan.pdf"
    )
    await expect(alice.locator("#upload-previews .upload-preview")).to_have_count(0)


async def test_a_file_pretending_to_be_an_image_is_refused_in_the_preview_area(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    fake = tmp_path / "invoice.png"
    fake.write_bytes(b"MZ\x90\x00" + bytes(200))
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Notes")

    await page.set_input_files("#upload-form input[type=file]", fake)

    await expect(page.locator("#upload-refusals").get_by_role("alert")).to_have_text(
        "invoice.png is not a valid image."
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["desktop", "phone"])
async def test_two_files_chosen_at_once_are_sent_together_each_shown_at_its_own_size(
    open_window: OpenWindow, live_server: str, tmp_path: Path, width: int, height: int
) -> None:
    photo = plain_png(tmp_path / "photo.png", (700, 500))  # wider than a message shows
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(PDF)
    alice, bob = await open_window(width=width, height=height), await open_window()
    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    await create_room(alice, "Design")
    await join_room(bob, "Design")

    await alice.set_input_files(FILE_FIELD, [photo, plan])
    previews = alice.locator("#upload-previews .upload-preview")
    await expect(previews).to_have_count(2)
    await expect(previews.nth(0)).to_contain_text("photo.png")
    await expect(previews.nth(1)).to_contain_text("plan.pdf")
    await composer(alice).fill("The mock-up and the plan")
    await composer(alice).press("Enter")

    await expect(previews).to_have_count(0)
    for window in (bob, alice):  # the sender's window, at the size under test, last
        shared = window.locator("#messages article").last
        await expect(shared).to_contain_text("The mock-up and the plan")
        image = shared.get_by_role("img", name="photo.png")
        await expect(image).to_have_js_property("naturalWidth", 700)  # loaded, not broken
        document = shared.get_by_role("link", name="plan.pdf")
        await expect(document).to_have_attribute("download", "plan.pdf")
    link = await shared.locator("a.attachment-image").bounding_box()
    shown = await image.bounding_box()
    card = await document.bounding_box()
    assert link is not None
    assert shown is not None
    assert card is not None
    assert shown["width"] <= min(360, width)
    assert link["width"] == pytest.approx(shown["width"], abs=1)  # the link hugs the image
    assert card["height"] < shown["height"] / 2  # not stretched to the image beside it


async def test_the_composer_says_what_may_be_attached_when_attaching(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    allowance = "JPG, PNG, GIF, WebP, PDF and text files, up to 10 MB each, 3 to a message."
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Notes")
    attach = page.get_by_label("Attach files")
    await expect(attach).to_have_accessible_description(allowance)
    said = page.get_by_text(allowance)
    await expect(said).to_be_hidden()

    await page.set_input_files(FILE_FIELD, plain_png(tmp_path / "photo.png", (40, 30)))

    await expect(page.locator("#upload-previews .upload-preview")).to_have_count(1)
    await expect(said).to_be_visible()


async def test_a_refusal_can_be_dismissed_and_goes_by_itself_once_other_files_are_chosen(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Notes")
    refusals = page.locator("#upload-refusals").get_by_role("alert")

    await page.set_input_files(FILE_FIELD, fake_image(tmp_path / "invoice.png"))
    await expect(refusals).to_have_text(["invoice.png is not a valid image."])
    await page.get_by_role("button", name="Dismiss").click()
    await expect(refusals).to_have_count(0)

    await page.set_input_files(FILE_FIELD, [fake_image(tmp_path / "scan.png")])
    await expect(refusals).to_have_text(["scan.png is not a valid image."])
    await page.set_input_files(FILE_FIELD, plain_png(tmp_path / "photo.png", (40, 30)))
    await expect(page.locator("#upload-previews .upload-preview")).to_have_count(1)
    await expect(refusals).to_have_count(0)


async def test_files_too_big_to_send_are_refused_with_the_limits_before_they_are_read(
    page: Page, settings: Settings, tmp_path: Path
) -> None:
    big = tmp_path / "film.txt"
    big.write_bytes(b"a" * (4 * MB))
    async with serving(settings.model_copy(update={"upload_max_bytes": MB})) as server:
        await register(page, server.url, "Dana", "dana@example.com", PASSWORD)
        await create_room(page, "Notes")

        await page.set_input_files(FILE_FIELD, big)

        await expect(page.locator("#upload-refusals").get_by_role("alert")).to_have_text(
            "What you chose is 4.1 MB: a file can be up to 1 MB, and a message can carry 3."
        )
        await expect(page.locator("#flash")).to_be_empty()
