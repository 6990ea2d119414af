"""What admins do to a room, seen in Chromium: the next page says what was done, and a
renamed room's open pages carry on at its old address."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import composer, create_room, join_room, register, send_message

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"

# Marks the page once its socket has caught up, which swaps out its #flash region and
# whatever stale notices it held.
MARK_CAUGHT_UP = """document.addEventListener("htmx:wsAfterMessage", (event) => {
    if (event.detail.message.includes('id="flash"')) document.body.dataset.caughtUp = "yes";
});"""


async def caught_up(page: Page) -> None:
    await expect(page.locator("body")).to_have_attribute("data-caught-up", "yes")


async def test_the_notice_after_an_invitation_outlasts_the_room_pages_catch_up(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await open_window(), await open_window()
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await create_room(alice, "Design", private=True)
    await alice.add_init_script(MARK_CAUGHT_UP)

    await alice.get_by_text("Invite someone").click()
    await alice.get_by_label("Their email").fill("bob@example.com")
    await alice.get_by_role("button", name="Add to room").click()
    await caught_up(alice)

    notice = alice.locator("#flash #notice")
    await expect(notice).to_have_text("Bob Okafor is now a member of Design.")
    await expect(notice).to_be_visible()
    await alice.reload()
    await caught_up(alice)
    await expect(alice.locator("#flash")).not_to_contain_text("member")


async def test_a_page_open_through_a_rename_shows_the_new_name_and_its_forms_still_work(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await open_window(), await open_window()
    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    await create_room(alice, "Design")
    await join_room(bob, "Design")

    await alice.get_by_text("Room settings").click()
    await alice.get_by_label("Name", exact=True).fill("Product")
    await alice.get_by_role("button", name="Save").click()
    await expect(alice).to_have_url(f"{live_server}/rooms/product")
    await expect(alice.locator("#notice")).to_have_text("Saved the settings of Product.")

    await expect(bob.get_by_role("heading", level=1)).to_have_accessible_name("Product")
    await expect(bob.locator("#flash")).to_contain_text("This room is now called Product.")
    await send_message(bob, "still talking after the rename")
    await expect(alice.locator("#messages")).to_contain_text("still talking after the rename")
    await expect(composer(bob)).to_be_enabled()

    await bob.get_by_role("button", name="Leave").click()  # a form with the old address
    await expect(bob).to_have_url(f"{live_server}/rooms")
    await expect(bob.locator("#notice")).to_have_text("You left Product.")
