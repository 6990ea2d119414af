"""Shared files: checked against their names before anything is kept, stored under random
names, several at once each on its own, pending until a message carries them, fetched by
whoever may read their message (and a pending one by its uploader alone), and swept away
when no message took them in time."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, update

from livechat.accounts.models import User
from livechat.chat import attachments, messages, rooms
from livechat.chat.attachments import (
    MAX_PENDING,
    Chosen,
    Inspected,
    Uploaded,
    display_name,
    inspect,
    size_text,
    stored_path,
)
from livechat.chat.models import Attachment, Room
from livechat.db import Database, utcnow
from livechat.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge

MB = 1024 * 1024
MAX_BYTES = 10 * MB
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEXT = "Meeting notes: café at 10:00, bring the plans.\n".encode()


def image(pillow_format: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format=pillow_format)
    return buffer.getvalue()


def noisy_png() -> bytes:
    """A PNG whose pixel data does not compress away, so that cutting it loses pixels."""
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


PNG = image("PNG")


@pytest.fixture
def uploads_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
async def secret(db: Database, alice: User) -> Room:
    """A private room that only Alice is in."""
    return await rooms.create_room(db, alice, name="Secret Plans", is_private=True)


async def share(
    db: Database,
    user: User,
    room: Room,
    uploads_dir: Path,
    filename: str = "photo.png",
    data: bytes = PNG,
) -> Attachment:
    return await attachments.upload(
        db,
        user,
        room.slug,
        filename=filename,
        data=data,
        uploads_dir=uploads_dir,
        max_bytes=MAX_BYTES,
    )


def chosen(filename: str, data: bytes = PNG, reads: list[str] | None = None) -> Chosen:
    """A file chosen for an upload, which notes in ``reads`` when it is read."""

    async def read() -> bytes:
        if reads is not None:
            reads.append(filename)
        return data

    return Chosen(filename, read)


async def share_many(
    db: Database, user: User, room: Room, uploads_dir: Path, files: list[Chosen]
) -> Uploaded:
    return await attachments.upload_many(
        db, user, room.slug, files, uploads_dir=uploads_dir, max_bytes=MAX_BYTES
    )


def files_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


async def pending_ids(db: Database, user: User, room: Room) -> list[int]:
    return [attachment.id for attachment in await attachments.pending(db, user, room.id)]


async def make_old(db: Database, attachment: Attachment, seconds: float) -> None:
    async with db.write() as session:
        await session.execute(
            update(Attachment)
            .where(Attachment.id == attachment.id)
            .values(inserted_at=utcnow() - timedelta(seconds=seconds))
        )


async def attachment_ids_in_database(db: Database) -> list[int]:
    async with db.read() as session:
        return sorted(await session.scalars(select(Attachment.id)))


# What may be shared


@pytest.mark.parametrize(
    ("filename", "pillow_format", "content_type"),
    [
        ("photo.png", "PNG", "image/png"),
        ("photo.jpg", "JPEG", "image/jpeg"),
        ("photo.jpeg", "JPEG", "image/jpeg"),
        ("SHOUTING.JPG", "JPEG", "image/jpeg"),
        ("animation.gif", "GIF", "image/gif"),
        ("sticker.webp", "WEBP", "image/webp"),
    ],
)
def test_an_image_whose_bytes_match_its_name_is_accepted_with_its_size(
    filename: str, pillow_format: str, content_type: str
) -> None:
    inspected = inspect(image(pillow_format, (40, 30)), filename, MAX_BYTES)

    assert inspected == Inspected(content_type, 40, 30)


def test_a_jpeg_carrying_a_second_picture_as_cameras_and_phones_write_is_accepted() -> None:
    # Many cameras and phones append a second picture (a large preview, a depth or gain
    # map) in the Multi-Picture Format: still a plain .jpg to every browser and viewer,
    # but Pillow reports its format as "MPO" rather than "JPEG".
    buffer = io.BytesIO()
    main, extra = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (40, 30), "blue")
    main.save(buffer, format="MPO", save_all=True, append_images=[extra])
    assert buffer.getvalue().startswith(b"\xff\xd8\xff")  # the premise: a JPEG stream

    assert inspect(buffer.getvalue(), "photo.jpg", MAX_BYTES) == Inspected("image/jpeg", 40, 30)


@pytest.mark.parametrize(
    ("filename", "data", "content_type"),
    [
        ("plan.pdf", PDF, "application/pdf"),
        ("notes.txt", TEXT, "text/plain"),
        ("NOTES.TXT", "ünïcödé ✓ 漢字".encode(), "text/plain"),
    ],
)
def test_a_pdf_or_a_utf8_text_file_is_accepted_as_a_document_without_dimensions(
    filename: str, data: bytes, content_type: str
) -> None:
    assert inspect(data, filename, MAX_BYTES) == Inspected(content_type, None, None)


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("README", b"no extension at all"),
        ("photo.png.exe", b"MZ\x90\x00"),
    ],
)
def test_a_file_whose_extension_is_not_allowed_is_refused_naming_the_file(
    filename: str, data: bytes
) -> None:
    expected = f"{filename}: only JPG, PNG, GIF, WebP, PDF and text files can be shared."

    with pytest.raises(BadRequest, match=re.escape(expected)):
        inspect(data, filename, MAX_BYTES)


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        pytest.param(
            "setup.png",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(64),
            "setup.png is not a valid image.",
            id="executable-renamed-png",
        ),
        pytest.param(
            "photo.jpg",
            image("PNG"),
            "photo.jpg is not the kind of image its name says.",
            id="png-renamed-jpg",
        ),
        pytest.param(
            "photo.gif",
            image("JPEG"),
            "photo.gif is not the kind of image its name says.",
            id="jpeg-renamed-gif",
        ),
        pytest.param(
            "photo.png",
            noisy_png()[:3000],
            "photo.png is not a valid image.",
            id="truncated-png",
        ),
        pytest.param(
            "report.pdf",
            b"Just some text that calls itself a PDF.",
            "report.pdf is not a PDF document.",
            id="text-renamed-pdf",
        ),
        pytest.param(
            "notes.txt",
            b"looks like text\x00\x01\x02 but is binary",
            "notes.txt is not a UTF-8 text file.",
            id="binary-with-nul-renamed-txt",
        ),
        pytest.param(
            "notes.txt",
            "café in Latin-1".encode("latin-1"),
            "notes.txt is not a UTF-8 text file.",
            id="latin1-text",
        ),
    ],
)
def test_a_file_whose_content_does_not_match_its_name_is_refused(
    filename: str, data: bytes, message: str
) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        inspect(data, filename, MAX_BYTES)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(BadRequest, match=re.escape("notes.txt is empty.")):
        inspect(b"", "notes.txt", MAX_BYTES)


def test_a_file_over_the_size_limit_is_refused_naming_its_size_and_the_limit() -> None:
    with pytest.raises(
        PayloadTooLarge, match=re.escape("holiday.txt is 14.3 MB: a file can be up to 10 MB.")
    ):
        inspect(b"a" * (14 * MB + 300 * 1024), "holiday.txt", 10 * MB)


def test_a_file_one_byte_over_the_limit_does_not_read_as_the_limit_itself() -> None:
    with pytest.raises(
        PayloadTooLarge, match=re.escape("notes.txt is 1.1 MB: a file can be up to 1 MB.")
    ):
        inspect(b"a" * (MB + 1), "notes.txt", MB)


def test_a_file_of_exactly_the_size_limit_is_accepted() -> None:
    assert inspect(b"a" * MB, "notes.txt", MB) == Inspected("text/plain", None, None)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KB"),
        (1025, "2 KB"),
        (500 * 1024, "500 KB"),
        (MB - 1, "1024 KB"),
        (MB, "1 MB"),
        (MB + 1, "1.1 MB"),
        (int(2.5 * MB), "2.5 MB"),
        (10 * MB, "10 MB"),
    ],
)
def test_a_size_reads_in_the_largest_whole_unit_rounded_up(size: int, shown: str) -> None:
    assert size_text(size) == shown


def test_what_may_be_attached_is_said_with_the_limits_in_force() -> None:
    assert attachments.allowance(25 * MB) == (
        "JPG, PNG, GIF, WebP, PDF and text files, up to 25 MB each, 3 to a message"
    )


def test_an_image_with_too_many_pixels_to_decode_safely_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("1", (8000, 5001)).save(buffer, format="PNG")  # 40,008,000 pixels, a few KB

    with pytest.raises(BadRequest, match=re.escape("huge.png has too many pixels.")):
        inspect(buffer.getvalue(), "huge.png", MAX_BYTES)


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("holiday photo.png", "holiday photo.png"),
        ("café.png", "café.png"),
        ("../../etc/passwd", "passwd"),
        ("/var/www/index.html", "index.html"),
        ("C:\\evil\\x.png", "x.png"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("bad\x00na\x1bme\x7f.png", "badname.png"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("  spaced out.pdf  ", "spaced out.pdf"),
        ("", "file"),
        ("\x00\x01\x02", "file"),
    ],
)
def test_the_name_shown_for_a_file_has_no_directories_or_control_characters(
    filename: str, shown: str
) -> None:
    assert display_name(filename) == shown


def test_the_name_shown_for_a_file_has_no_c1_control_characters_either() -> None:
    # U+0080..U+009F are control characters too (NEL is a line break, CSI starts terminal
    # escape sequences); message bodies drop them, and so should file names.
    assert display_name("bad\x85na\x9bme.png") == "badname.png"


def test_a_long_name_is_shortened_keeping_its_extension() -> None:
    shown = display_name("a" * 300 + ".png")

    assert len(shown) == attachments.ORIGINAL_NAME_MAX_LENGTH
    assert shown.endswith("aaa.png")


# Uploading


async def test_an_upload_is_kept_under_a_random_name_inside_the_uploads_folder_until_sent(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    data = image("PNG", (40, 30))

    stored = await share(db, alice, general, uploads_dir, "holiday photo.png", data)

    assert re.fullmatch(r"[0-9a-f]{32}\.png", stored.stored_name)
    assert stored.original_name == "holiday photo.png"
    assert (stored.content_type, stored.size) == ("image/png", len(data))
    assert (stored.width, stored.height) == (40, 30)
    assert stored.message_id is None
    [kept] = files_in(uploads_dir)
    assert kept == stored_path(uploads_dir, stored.stored_name)
    assert kept.read_bytes() == data
    assert "holiday" not in str(kept)
    assert await pending_ids(db, alice, general) == [stored.id]


async def test_two_uploads_with_the_same_name_are_kept_apart(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    first = await share(db, alice, general, uploads_dir, "photo.png", image("PNG", (10, 10)))
    second = await share(db, alice, general, uploads_dir, "photo.png", image("PNG", (20, 20)))

    assert first.stored_name != second.stored_name
    assert stored_path(uploads_dir, first.stored_name).read_bytes() == image("PNG", (10, 10))
    assert stored_path(uploads_dir, second.stored_name).read_bytes() == image("PNG", (20, 20))


async def test_a_filename_with_directories_cannot_place_the_file_outside_the_uploads_folder(
    db: Database, alice: User, general: Room, tmp_path: Path, uploads_dir: Path
) -> None:
    stored = await share(db, alice, general, uploads_dir, "../../../escaped.png")

    assert stored.original_name == "escaped.png"
    assert [path for path in files_in(tmp_path) if path.suffix == ".png"] == [
        stored_path(uploads_dir, stored.stored_name)
    ]
    assert all(path.is_relative_to(uploads_dir) for path in files_in(uploads_dir))


async def test_a_fourth_pending_upload_in_a_room_is_refused_and_not_kept(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    kept = [await share(db, alice, general, uploads_dir) for _ in range(MAX_PENDING)]

    with pytest.raises(BadRequest, match=re.escape("A message can carry 3 files at most.")):
        await share(db, alice, general, uploads_dir)

    assert await pending_ids(db, alice, general) == [attachment.id for attachment in kept]
    assert len(files_in(uploads_dir)) == MAX_PENDING


async def test_uploads_sent_at_the_same_moment_still_keep_to_the_pending_limit(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    results = await asyncio.gather(
        *(share(db, alice, general, uploads_dir) for _ in range(MAX_PENDING + 2)),
        return_exceptions=True,
    )

    kept = [result for result in results if isinstance(result, Attachment)]
    refused = [result for result in results if not isinstance(result, Attachment)]
    assert len(kept) == MAX_PENDING
    assert len(refused) == 2
    assert all(isinstance(error, BadRequest) for error in refused)
    assert sorted(await pending_ids(db, alice, general)) == sorted(a.id for a in kept)
    assert files_in(uploads_dir) == sorted(
        stored_path(uploads_dir, attachment.stored_name) for attachment in kept
    )


async def test_the_pending_limit_is_per_person_and_per_room(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    for _ in range(MAX_PENDING):
        await share(db, alice, general, uploads_dir)
    other_room = await rooms.create_room(db, alice, name="Random")

    bobs = await share(db, bob, general, uploads_dir)
    alices_elsewhere = await share(db, alice, other_room, uploads_dir)

    assert await pending_ids(db, bob, general) == [bobs.id]
    assert await pending_ids(db, alice, other_room) == [alices_elsewhere.id]


async def test_sending_the_pending_files_makes_room_for_new_uploads(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    sent = [await share(db, alice, general, uploads_dir) for _ in range(MAX_PENDING)]
    await messages.create_message(
        db, alice, general.slug, "", attachment_ids=[attachment.id for attachment in sent]
    )

    fresh = await share(db, alice, general, uploads_dir)

    assert await pending_ids(db, alice, general) == [fresh.id]


async def test_a_visitor_of_a_public_room_must_join_before_uploading_and_nothing_is_kept(
    db: Database, alice: User, carol: User, general: Room, uploads_dir: Path
) -> None:
    with pytest.raises(Forbidden, match="Join General"):
        await share(db, carol, general, uploads_dir)

    assert files_in(uploads_dir) == []
    assert await pending_ids(db, carol, general) == []


async def test_a_stranger_to_a_private_room_is_told_it_does_not_exist_and_nothing_is_kept(
    db: Database, carol: User, secret: Room, uploads_dir: Path
) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        await share(db, carol, secret, uploads_dir)

    assert files_in(uploads_dir) == []
    assert await attachment_ids_in_database(db) == []


async def test_a_refused_file_is_neither_written_nor_recorded(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    with pytest.raises(BadRequest, match="not a valid image"):
        await share(db, alice, general, uploads_dir, "setup.png", b"MZ\x90\x00" + bytes(64))

    assert files_in(uploads_dir) == []
    assert await pending_ids(db, alice, general) == []


async def test_files_chosen_together_are_each_kept_or_refused_on_their_own(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    files = [chosen("photo.png"), chosen("setup.exe", b"MZ\x90\x00"), chosen("plan.pdf", PDF)]

    uploaded = await share_many(db, alice, general, uploads_dir, files)

    assert [kept.original_name for kept in uploaded.kept] == ["photo.png", "plan.pdf"]
    assert [refusal.message for refusal in uploaded.refusals] == [
        "setup.exe: only JPG, PNG, GIF, WebP, PDF and text files can be shared."
    ]
    assert await pending_ids(db, alice, general) == [kept.id for kept in uploaded.kept]
    assert len(files_in(uploads_dir)) == 2


async def test_a_refused_file_leaves_its_place_in_the_message_to_the_next_one(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    files = [chosen("a.png"), chosen("broken.png", b"MZ" + bytes(64)), chosen("b.png")]
    files += [chosen("c.png"), chosen("d.png")]

    uploaded = await share_many(db, alice, general, uploads_dir, files)

    assert [kept.original_name for kept in uploaded.kept] == ["a.png", "b.png", "c.png"]
    assert [refusal.message for refusal in uploaded.refusals] == [
        "broken.png is not a valid image.",
        "d.png was not added: a message can carry 3 files at most.",
    ]


async def test_files_a_message_has_no_room_for_are_refused_together_by_name_the_rest_unread(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    waiting = await share(db, alice, general, uploads_dir, "waiting.png")
    reads: list[str] = []
    files = [chosen(f"page {number}.png", reads=reads) for number in range(1, 7)]

    uploaded = await share_many(db, alice, general, uploads_dir, files)

    assert [kept.original_name for kept in uploaded.kept] == ["page 1.png", "page 2.png"]
    [refusal] = uploaded.refusals
    assert isinstance(refusal, BadRequest)
    assert refusal.message == (
        "page 3.png, page 4.png and 2 more were not added: a message can carry 3 files at most."
    )
    assert "page 4.png" not in reads
    assert "page 6.png" not in reads
    assert await pending_ids(db, alice, general) == [waiting.id, *(k.id for k in uploaded.kept)]


async def test_two_files_a_full_message_has_no_room_for_are_both_named(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    for _ in range(MAX_PENDING):
        await share(db, alice, general, uploads_dir)

    uploaded = await share_many(
        db, alice, general, uploads_dir, [chosen("late.png"), chosen("later.png")]
    )

    assert uploaded.kept == []
    assert [refusal.message for refusal in uploaded.refusals] == [
        "late.png and later.png were not added: a message can carry 3 files at most."
    ]


async def test_a_visitor_choosing_files_is_refused_once_for_the_room_and_nothing_is_read(
    db: Database, carol: User, general: Room, uploads_dir: Path
) -> None:
    reads: list[str] = []

    with pytest.raises(Forbidden, match="Join General"):
        await share_many(
            db, carol, general, uploads_dir, [chosen("a.png", reads=reads), chosen("b.png")]
        )

    assert reads == []
    assert files_in(uploads_dir) == []


# Sending files with a message


async def test_a_message_carries_the_uploads_it_names_and_may_have_no_text(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    photo = await share(db, alice, general, uploads_dir, "photo.png")
    plan = await share(db, alice, general, uploads_dir, "plan.pdf", PDF)

    posted = await messages.create_message(
        db, alice, general.slug, "", attachment_ids=[photo.id, plan.id]
    )

    assert posted.message.body == ""
    assert sorted(a.original_name for a in posted.message.attachments) == ["photo.png", "plan.pdf"]
    assert await pending_ids(db, alice, general) == []
    [shown] = (await messages.history(db, alice, general.slug)).messages
    assert sorted(a.id for a in shown.attachments) == [photo.id, plan.id]


async def test_uploads_of_someone_else_or_of_another_room_are_not_attached(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    bobs = await share(db, bob, general, uploads_dir)
    other_room = await rooms.create_room(db, alice, name="Random")
    elsewhere = await share(db, alice, other_room, uploads_dir)

    posted = await messages.create_message(
        db, alice, general.slug, "look", attachment_ids=[bobs.id, elsewhere.id]
    )

    assert posted.message.attachments == []
    assert await pending_ids(db, bob, general) == [bobs.id]
    assert await pending_ids(db, alice, other_room) == [elsewhere.id]


async def test_a_message_without_text_whose_files_are_not_waiting_is_refused(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    bobs = await share(db, bob, general, uploads_dir)

    with pytest.raises(BadRequest, match="no longer waiting to be sent"):
        await messages.create_message(db, alice, general.slug, "  ", attachment_ids=[bobs.id])

    assert (await messages.history(db, alice, general.slug)).messages == []
    assert await pending_ids(db, bob, general) == [bobs.id]
    assert (await rooms.get_room(db, alice, general.slug)).room.last_seq == 0


async def test_an_upload_already_sent_is_not_attached_to_another_message(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    photo = await share(db, alice, general, uploads_dir)
    first = await messages.create_message(db, alice, general.slug, "", attachment_ids=[photo.id])

    again = await messages.create_message(
        db, alice, general.slug, "again", attachment_ids=[photo.id]
    )

    assert again.message.attachments == []
    shown = (await messages.history(db, alice, general.slug)).messages
    assert [[a.id for a in message.attachments] for message in shown] == [[photo.id], []]
    assert shown[0].id == first.message.id


async def test_a_resent_message_comes_back_with_its_files_and_takes_no_new_number(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    photo = await share(db, alice, general, uploads_dir)
    first = await messages.create_message(
        db, alice, general.slug, "look", "abc-123", attachment_ids=[photo.id]
    )

    again = await messages.create_message(
        db, alice, general.slug, "look", "abc-123", attachment_ids=[photo.id]
    )

    assert not again.created
    assert again.message.id == first.message.id
    assert [a.id for a in again.message.attachments] == [photo.id]
    assert again.message.author.id == alice.id
    assert (await rooms.get_room(db, alice, general.slug)).room.last_seq == first.message.seq


# Discarding


async def test_discarding_a_pending_upload_removes_its_record_and_its_file(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    kept = await share(db, alice, general, uploads_dir)
    discarded = await share(db, alice, general, uploads_dir)

    await attachments.discard(db, alice, discarded.id, uploads_dir)

    assert await pending_ids(db, alice, general) == [kept.id]
    assert files_in(uploads_dir) == [stored_path(uploads_dir, kept.stored_name)]


async def test_one_cannot_discard_someone_elses_upload_or_one_already_sent(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    bobs = await share(db, bob, general, uploads_dir)
    sent = await share(db, alice, general, uploads_dir)
    await messages.create_message(db, alice, general.slug, "", attachment_ids=[sent.id])

    with pytest.raises(NotFound, match="no longer waiting"):
        await attachments.discard(db, alice, bobs.id, uploads_dir)
    with pytest.raises(NotFound, match="no longer waiting"):
        await attachments.discard(db, alice, sent.id, uploads_dir)

    assert await attachment_ids_in_database(db) == sorted([bobs.id, sent.id])
    assert len(files_in(uploads_dir)) == 2


# Fetching


async def test_members_of_the_room_may_fetch_a_shared_file(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    photo = await share(db, alice, general, uploads_dir)
    await messages.create_message(db, alice, general.slug, "", attachment_ids=[photo.id])

    for member in (alice, bob):
        fetched = await attachments.readable_file(db, member, photo.stored_name)
        assert fetched.id == photo.id


async def test_the_uploader_may_fetch_a_pending_file_even_after_leaving_the_room(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    bobs = await share(db, bob, general, uploads_dir)
    await rooms.leave_room(db, bob, general.slug)

    fetched = await attachments.readable_file(db, bob, bobs.stored_name)

    assert fetched.id == bobs.id


async def test_anyone_signed_in_may_fetch_the_files_of_a_public_rooms_messages_unjoined(
    db: Database, alice: User, carol: User, general: Room, uploads_dir: Path
) -> None:
    photo = await share(db, alice, general, uploads_dir)
    await messages.create_message(db, alice, general.slug, "", attachment_ids=[photo.id])

    fetched = await attachments.readable_file(db, carol, photo.stored_name)

    assert fetched.id == photo.id


async def test_someone_outside_a_private_room_cannot_fetch_its_files(
    db: Database, alice: User, carol: User, secret: Room, uploads_dir: Path
) -> None:
    photo = await share(db, alice, secret, uploads_dir)
    await messages.create_message(db, alice, secret.slug, "", attachment_ids=[photo.id])

    with pytest.raises(NotFound, match=re.escape("There is no such file.")):
        await attachments.readable_file(db, carol, photo.stored_name)


async def test_a_pending_file_is_its_uploaders_alone_even_in_a_public_room(
    db: Database, alice: User, bob: User, carol: User, general: Room, uploads_dir: Path
) -> None:
    bobs = await share(db, bob, general, uploads_dir)

    for someone_else in (alice, carol):  # the room's admin, and a visitor
        with pytest.raises(NotFound, match=re.escape("There is no such file.")):
            await attachments.readable_file(db, someone_else, bobs.stored_name)
    assert (await attachments.readable_file(db, bob, bobs.stored_name)).id == bobs.id


async def test_a_member_removed_from_a_private_room_can_no_longer_fetch_its_files(
    db: Database, alice: User, bob: User, secret: Room, uploads_dir: Path
) -> None:
    await rooms.add_member(db, alice, secret.slug, bob.email)
    photo = await share(db, alice, secret, uploads_dir)
    await messages.create_message(db, alice, secret.slug, "", attachment_ids=[photo.id])
    assert (await attachments.readable_file(db, bob, photo.stored_name)).id == photo.id

    await rooms.remove_member(db, alice, secret.slug, bob.id)

    with pytest.raises(NotFound, match=re.escape("There is no such file.")):
        await attachments.readable_file(db, bob, photo.stored_name)


async def test_a_file_name_nobody_uploaded_is_not_found(db: Database, alice: User) -> None:
    with pytest.raises(NotFound, match=re.escape("There is no such file.")):
        await attachments.readable_file(db, alice, "0" * 32 + ".png")


# Sweeping abandoned uploads


async def test_sweeping_removes_only_pending_uploads_older_than_the_cutoff_and_their_files(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    abandoned = await share(db, alice, general, uploads_dir, "abandoned.png")
    also_abandoned = await share(db, bob, general, uploads_dir, "forgotten.txt", TEXT)
    fresh = await share(db, alice, general, uploads_dir, "fresh.png")
    sent = await share(db, alice, general, uploads_dir, "sent.pdf", PDF)
    await messages.create_message(db, alice, general.slug, "", attachment_ids=[sent.id])
    for old in (abandoned, also_abandoned, sent):
        await make_old(db, old, seconds=2 * 3600)

    removed = await attachments.sweep_abandoned(db, uploads_dir, older_than_seconds=3600)

    assert removed == 2
    assert await attachment_ids_in_database(db) == sorted([fresh.id, sent.id])
    assert files_in(uploads_dir) == sorted(
        stored_path(uploads_dir, kept.stored_name) for kept in (fresh, sent)
    )
    assert await attachments.sweep_abandoned(db, uploads_dir, older_than_seconds=3600) == 0


async def test_sweeping_with_nothing_abandoned_removes_nothing(
    db: Database, alice: User, general: Room, uploads_dir: Path
) -> None:
    fresh = await share(db, alice, general, uploads_dir)

    assert await attachments.sweep_abandoned(db, uploads_dir, older_than_seconds=3600) == 0
    assert await pending_ids(db, alice, general) == [fresh.id]
    assert files_in(uploads_dir) == [stored_path(uploads_dir, fresh.stored_name)]


# Deleting a message


async def test_deleting_a_message_removes_its_attachment_records_and_names_the_files_to_remove(
    db: Database, alice: User, bob: User, general: Room, uploads_dir: Path
) -> None:
    photo = await share(db, alice, general, uploads_dir)
    plan = await share(db, alice, general, uploads_dir, "plan.pdf", PDF)
    posted = await messages.create_message(
        db, alice, general.slug, "files", attachment_ids=[photo.id, plan.id]
    )

    deleted = (await messages.delete_message(db, alice, posted.message.id)).message

    assert sorted(a.stored_name for a in deleted.attachments) == sorted(
        [photo.stored_name, plan.stored_name]
    )
    assert await attachment_ids_in_database(db) == []
    with pytest.raises(NotFound):
        await attachments.readable_file(db, bob, photo.stored_name)
