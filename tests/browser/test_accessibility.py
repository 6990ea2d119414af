"""Accessibility as a check: axe-core finds nothing serious or critical on any page of
a person's way through livechat, in light and dark mode, on a desktop and on a phone.

Each page is checked in all four looks: the register page; the log-in page with a
refused log-in; the room list with a public and a private room; a room with messages, an
image, a document, a file waiting to be sent and one refused, someone else's messages and
one's own, a day's divider and the presence sidebar, seen by a member; the same room seen
with a reaction, its picker open and a message being edited; the same room seen by its
admin while someone types, with its members, invite and settings panels open, and asking
to confirm a deletion; a public room seen by someone who has not joined; the composer
offering people to mention; the room list with a mention and unread messages; someone's
page; a direct conversation; the mentions; search with highlighted results; the profile
after saving it; and the not-found page.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import pytest
from PIL import Image
from playwright.async_api import Page, expect

from livechat.realtime import presence as presence_module
from tests.browser.axe import AxeUnavailable, Violation, axe_source, blocking_violations
from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import (
    composer,
    create_room,
    join_room,
    log_in,
    log_out,
    register,
    send_message,
    settled,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"
# Colour scheme, device, and the viewport's width and height.
LOOKS: list[tuple[Literal["light", "dark"], str, int, int]] = [
    ("light", "desktop", 1280, 800),
    ("light", "phone", 390, 844),
    ("dark", "desktop", 1280, 800),
    ("dark", "phone", 390, 844),
]
# Colours fade into a new scheme: measured mid-fade, a button is neither light nor dark.
TRANSITIONS_DONE = """() => Promise.allSettled(
    document.getAnimations().filter(a => a instanceof CSSTransition).map(a => a.finished))"""


@pytest.fixture(scope="session")
def axe() -> str:
    try:
        return axe_source()
    except AxeUnavailable as error:
        pytest.fail(str(error))


async def check_every_look(page: Page, axe: str, name: str, found: list[Violation]) -> None:
    """Check the page as it is now in each look; the page reflows in place, as a window
    resized or a system switched to dark mode would."""
    for scheme, device, width, height in LOOKS:
        await page.set_viewport_size({"width": width, "height": height})
        await page.emulate_media(color_scheme=scheme)
        await page.evaluate(TRANSITIONS_DONE)
        found += await blocking_violations(page, axe, f"{name}, {scheme}, {device}")


def small_png(path: Path) -> Path:
    image = Image.new("RGB", (480, 270), (79, 70, 229))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_every_page_has_no_serious_accessibility_violation_in_any_look(
    open_window: OpenWindow,
    live_server: str,
    tmp_path: Path,
    axe: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Someone typing stays "typing" for as long as the check of the page takes.
    monkeypatch.setattr(presence_module, "TYPING_TIMEOUT_S", 600.0)
    found: list[Violation] = []
    alice, bob, carol = await open_window(), await open_window(), await open_window()

    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    await register(carol, live_server, "Carol Nguyen", "carol@example.com", PASSWORD)
    await create_room(alice, "Board", private=True)
    await alice.goto(f"{live_server}/rooms")
    await alice.get_by_label("Description").fill("Dates, plans and the poster")
    await create_room(alice, "Launch")
    await join_room(bob, "Launch")

    # Messages both ways, an image and a document, and a file Bob has not sent yet.
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("Bring the banner.\n")
    await send_message(alice, "Welcome! The poster is below")
    for attachment in (small_png(tmp_path / "poster.png"), plan):
        await alice.set_input_files("#upload-form input[type=file]", attachment)
        await expect(alice.locator("#upload-previews")).to_contain_text(attachment.name)
    await send_message(alice, "Poster and plan, final versions")
    await send_message(bob, "Looks great, see https://example.com/notes")
    refused = tmp_path / "setup.exe"
    refused.write_bytes(b"MZ")
    # Chosen together: a file chosen just as the last upload's answer replaces the form
    # would go to the input on its way out.
    await bob.set_input_files("#upload-form input[type=file]", [notes, refused])
    await expect(bob.locator("#upload-previews")).to_contain_text("notes.txt")
    await expect(bob.locator("#upload-refusals")).to_contain_text("setup.exe")
    await expect(bob.locator("#messages article").nth(1).locator("img")).to_be_visible()
    await expect(bob.locator("#presence")).to_contain_text("Alice Martin")
    await check_every_look(bob, axe, "a room, as a member", found)

    # Reactions given, the picker open, and a message being edited.
    welcome = bob.locator("#messages article", has_text="Welcome!")
    await welcome.hover()
    await welcome.get_by_role("button", name="Add a reaction").click()
    await welcome.get_by_role("button", name="🎉", exact=True).click()
    await expect(alice.locator("#messages .reaction")).to_have_text("🎉 1")
    await welcome.hover()
    await welcome.get_by_role("button", name="Add a reaction").click()
    await expect(welcome.get_by_role("group", name="Reactions")).to_be_visible()
    await check_every_look(bob, axe, "a room, picking a reaction", found)
    await bob.keyboard.press("Escape")
    own = bob.locator("#messages article", has_text="Looks great")
    await own.hover()
    await own.get_by_role("button", name="Edit message").click()
    await expect(own.get_by_role("textbox", name="Edit your message")).to_be_focused()
    await check_every_look(bob, axe, "a room, editing a message", found)
    await own.get_by_role("button", name="Cancel").click()
    await expect(own.get_by_role("textbox")).to_have_count(0)

    # The admin's view, with Bob among the members, while he types, every panel open.
    await alice.reload()
    await settled(alice)
    await expect(alice.locator("#presence")).to_contain_text("Bob Okafor")
    await composer(bob).press_sequentially("One more thing")
    await expect(alice.locator("#typing")).to_have_text("Bob Okafor is typing…")
    for panel in ("Members", "Invite someone", "Room settings"):
        await alice.locator("summary", has_text=panel).click()
    await expect(alice.get_by_label("Their email")).to_be_visible()
    await check_every_look(alice, axe, "a room, as its admin", found)
    welcome = alice.locator("#messages article", has_text="Welcome!")
    await welcome.hover()
    await welcome.get_by_role("button", name="Delete message").click()
    await expect(
        alice.get_by_role("dialog", name="Delete this message for everyone?")
    ).to_be_visible()
    await check_every_look(alice, axe, "a room, asked to confirm a deletion", found)
    await alice.keyboard.press("Escape")

    await carol.goto(f"{live_server}/rooms/launch")
    await expect(carol.get_by_role("button", name="Join room")).to_be_visible()
    await check_every_look(carol, axe, "a public room, before joining", found)

    # Bob mentions Alice, chosen from what the composer offers, while she is away.
    await alice.goto(f"{live_server}/rooms")
    await expect(alice).to_have_title("Rooms · livechat")
    await composer(bob).press_sequentially(" for @ali")
    offered = bob.get_by_role("button", name="Alice Martin @alice_martin")
    await expect(offered).to_be_visible()
    await check_every_look(bob, axe, "a room, offered people to mention", found)
    await offered.click()
    await composer(bob).press("Enter")
    await expect(
        alice.locator("#rooms li", has_text="Launch").locator(".badge-alert")
    ).to_be_visible()

    await expect(alice.locator("#rooms > li")).to_have_count(2)
    await check_every_look(alice, axe, "the room list, with a mention and unread messages", found)

    welcome = bob.locator("#messages article", has_text="Welcome!")
    await welcome.get_by_role("link", name="Alice Martin").click()
    await check_every_look(bob, axe, "someone's page", found)
    await bob.get_by_role("button", name="Message Alice Martin").click()
    await send_message(bob, "A word in private")
    await check_every_look(bob, axe, "a direct conversation", found)
    await alice.goto(f"{live_server}/mentions")
    await expect(alice.locator(".mention-list > li")).to_have_count(2)
    await check_every_look(alice, axe, "the mentions", found)

    await bob.goto(f"{live_server}/search?q=poster")
    await expect(bob.locator("#search-results mark").first).to_be_visible()
    await check_every_look(bob, axe, "search results", found)

    await carol.goto(f"{live_server}/profile")
    await carol.get_by_role("button", name="Save profile").click()
    await expect(carol.get_by_role("status").filter(has_text="saved")).to_be_visible()
    await check_every_look(carol, axe, "the profile", found)

    response = await carol.goto(f"{live_server}/rooms/no-such-room")
    assert response is not None
    assert response.status == 404
    await check_every_look(carol, axe, "not found", found)

    await log_out(carol)
    await log_in(carol, live_server, "carol@example.com", "not her passphrase")
    await expect(carol.get_by_role("alert").filter(has_text="password")).to_be_visible()
    await check_every_look(carol, axe, "log in, refused", found)

    await carol.goto(f"{live_server}/users/register")
    await settled(carol)
    await check_every_look(carol, axe, "register", found)

    assert not found, "axe-core found serious or critical violations:\n\n" + "\n\n".join(
        str(violation) for violation in found
    )
