"""Two people, two Chromium windows, one room, no reloads."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from livechat.realtime import presence as presence_module
from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import (
    MARK_CONNECTED,
    composer,
    connected,
    create_room,
    join_room,
    register,
    send_message,
    settled,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"


async def alice_and_bob_in_launch(open_window: OpenWindow, server: str) -> tuple[Page, Page]:
    """Alice's room Launch, which Bob has joined: each in a window of their own, on it."""
    alice, bob = await open_window(), await open_window()
    await register(alice, server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, server, "Bob Okafor", "bob@example.com", PASSWORD)
    await create_room(alice, "Launch")
    await join_room(bob, "Launch")
    return alice, bob


async def test_two_people_chat_live_see_each_other_and_each_others_typing(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await open_window(), await open_window(width=390, height=844)
    errors: list[str] = []
    for page in (alice, bob):
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)

    await create_room(alice, "Launch")
    await expect(bob.locator("#rooms")).to_contain_text("Launch")  # no reload
    await join_room(bob, "Launch")
    await expect(alice.locator("#presence")).to_contain_text("Bob Okafor")
    await expect(bob.locator("#presence")).to_contain_text("Alice Martin")

    await composer(alice).press_sequentially("We ship")
    await expect(bob.locator("#typing")).to_have_text("Alice Martin is typing…")
    # The typer's own page has the line with her name too, hidden from her alone by /me.css.
    typer_sees = alice.locator("#typing").get_by_text("Alice Martin is typing…")
    await expect(typer_sees.filter(visible=False)).to_be_attached()
    await composer(alice).press("Enter")
    await expect(bob.locator("#messages")).to_contain_text("We ship")
    await expect(bob.locator("#typing")).to_have_text("")

    await send_message(bob, "Great, see https://example.com/notes")
    latest = alice.locator("#messages article").last
    await expect(latest).to_contain_text("Bob Okafor")
    await expect(latest.get_by_role("link", name="https://example.com/notes")).to_have_attribute(
        "rel", "noopener noreferrer nofollow ugc"
    )

    await bob.context.close()
    await expect(alice.locator("#presence")).not_to_contain_text("Bob Okafor")
    assert errors == []


async def test_an_empty_message_is_refused_and_typed_text_is_kept(
    page: Page, live_server: str
) -> None:
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Notes")

    field = composer(page)
    await field.fill("   ")
    await field.press("Enter")
    await expect(page.locator("#flash")).to_contain_text("can't be empty")

    await field.fill("line one")
    await field.press("Shift+Enter")
    await field.press_sequentially("line two")
    await expect(field).to_have_value("line one\nline two")
    await field.press("Enter")
    await expect(page.locator("#messages article").last).to_contain_text("line one\nline two")


async def test_the_sidebar_changes_entry_by_entry_and_counts_those_past_its_limit(
    open_window: OpenWindow, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence_module, "SIDEBAR_LIMIT", 2)
    alice, bob, carol = await open_window(), await open_window(), await open_window()
    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    await register(carol, live_server, "Carol Nguyen", "carol@example.com", PASSWORD)
    await create_room(alice, "Standup")
    sidebar, more = alice.locator("#presence .presence-name"), alice.locator("#presence-more")

    await join_room(bob, "Standup")
    await expect(sidebar).to_have_text(["Alice Martin", "Bob Okafor"])
    await join_room(carol, "Standup")
    await expect(alice.locator("#online-count")).to_have_text("3 online")
    await expect(more).to_have_text("and 1 more")
    await expect(sidebar).to_have_text(["Alice Martin", "Bob Okafor"])

    # A page that reconnects is sent the sidebar everyone has, with no one in it twice
    # (Bob may come back after Carol, if the room saw him gone in between).
    await bob.reload()
    await expect(bob.locator("#online-count")).to_have_text("3 online")
    await expect(bob.locator("#presence li")).to_have_count(2)
    await expect(bob.locator("#presence-more")).to_have_text("and 1 more")
    await expect(sidebar).to_have_count(2)

    await bob.context.close()  # Carol has, or takes, the place Bob leaves
    await expect(sidebar).to_have_text(["Alice Martin", "Carol Nguyen"])
    await expect(more).to_be_hidden()
    await expect(alice.locator("#online-count")).to_have_text("2 online")


async def test_opening_a_room_puts_the_cursor_in_its_composer(
    open_window: OpenWindow, live_server: str
) -> None:
    page = await open_window()
    await register(page, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await create_room(page, "Launch")
    await page.goto(f"{live_server}/rooms")

    await page.locator("#rooms").get_by_role("link", name="Launch").click()

    await expect(composer(page)).to_be_focused()


async def test_a_room_list_whose_socket_connects_late_shows_the_rooms_created_meanwhile(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await open_window(), await open_window()
    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    connect = asyncio.Event()

    async def held_back(socket: WebSocketRoute) -> None:
        await connect.wait()
        socket.connect_to_server()

    await bob.route_web_socket(re.compile(r"/lobby/ws$"), held_back)
    await bob.reload()
    await settled(bob)
    await create_room(alice, "Design")
    await expect(bob.locator("#rooms").get_by_role("link", name="Design")).to_have_count(0)

    connect.set()

    await join_room(bob, "Design")


async def test_a_page_whose_room_closed_says_why_and_does_not_claim_to_reconnect(
    open_window: OpenWindow, live_server: str
) -> None:
    first = await open_window()
    await register(first, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await create_room(first, "Launch")
    second = await first.context.new_page()
    await second.add_init_script(MARK_CONNECTED)
    await second.goto(first.url)
    await connected(second)
    await second.evaluate(CLASSES_ONCE_CLOSED)

    await first.get_by_role("button", name="Leave").click()

    await expect(second.locator("#flash")).to_contain_text("You left this room.")
    classes = await second.evaluate("() => window.classesOnceClosed")
    assert "is-reconnecting" not in classes
    await expect(second.get_by_role("status").filter(has_text="Reconnecting")).to_be_hidden()


# The body's classes just after the page has handled its socket closing.
CLASSES_ONCE_CLOSED = """() => {
  window.classesOnceClosed = new Promise((resolve) => document.addEventListener(
    "htmx:wsClose", () => resolve(document.body.className), { once: true }));
}"""


async def test_a_new_name_shows_at_once_on_earlier_messages_in_open_pages(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await alice_and_bob_in_launch(open_window, live_server)
    await send_message(alice, "said before the change")
    earlier = bob.locator("#messages article", has_text="said before the change")
    await expect(earlier.locator(".avatar")).to_have_text("AM")

    profile = await alice.context.new_page()
    await profile.goto(f"{live_server}/profile")
    await profile.get_by_label("Display name").fill("Zoe Quinn")
    await profile.get_by_role("button", name="Save profile").click()
    await expect(profile.get_by_text("Your profile is saved.")).to_be_visible()

    await expect(earlier.locator(".message-author")).to_have_text("Zoe Quinn")
    await expect(earlier.locator(".avatar")).to_have_text("ZQ")
    await expect(earlier.locator(".avatar")).to_have_count(1)
    await expect(alice.locator("#messages .message-author")).to_have_text("Zoe Quinn")


async def test_deleting_asks_first_and_removes_the_message_for_everyone(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await alice_and_bob_in_launch(open_window, live_server)
    await send_message(alice, "a regrettable message")
    mine = alice.locator("#messages article", has_text="a regrettable message")
    theirs = bob.locator("#messages article", has_text="a regrettable message")
    await expect(theirs).to_be_visible()
    await expect(theirs.get_by_role("button", name="Delete message")).to_be_hidden()

    await mine.hover()
    await mine.get_by_role("button", name="Delete message").click()
    confirmation = alice.get_by_role("dialog", name="Delete this message for everyone?")
    await expect(confirmation).to_be_visible()
    await confirmation.get_by_role("button", name="Cancel").click()
    await expect(confirmation).to_be_hidden()
    await expect(theirs).to_be_visible()

    await mine.hover()
    await mine.get_by_role("button", name="Delete message").click()
    await confirmation.get_by_role("button", name="Delete").click()

    await expect(theirs).to_have_count(0)
    await expect(mine).to_have_count(0)


async def test_the_keyboard_reaches_the_composer_from_the_top_of_a_long_room(
    open_window: OpenWindow, live_server: str
) -> None:
    page = await open_window()
    await register(page, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await create_room(page, "Launch")
    for number in range(3):
        await send_message(page, f"see https://example.com/{number}")
    await page.reload()
    await settled(page)

    # Where a keyboard user starts: the first thing on the page.
    await page.get_by_role("link", name="Skip to content").focus()
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the message box")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")

    await expect(composer(page)).to_be_focused()


async def test_an_author_edits_a_message_in_place_and_everyone_sees_it_edited(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await alice_and_bob_in_launch(open_window, live_server)
    await send_message(alice, "We ship on Tuesday")
    mine = alice.locator("#messages article", has_text="We ship on")
    theirs = bob.locator("#messages article", has_text="We ship on")
    await expect(theirs.get_by_role("button", name="Edit message")).to_be_hidden()

    await mine.hover()
    await mine.get_by_role("button", name="Edit message").click()
    editor = mine.get_by_role("textbox", name="Edit your message")
    await expect(editor).to_be_focused()
    await expect(editor).to_have_value("We ship on Tuesday")
    await editor.fill("We ship on Thursday")
    await editor.press("Enter")

    for page in (alice, bob):
        edited = page.locator("#messages article", has_text="We ship on Thursday")
        await expect(edited.locator(".message-edited")).to_have_text("(edited)")
    await expect(mine.get_by_role("textbox")).to_have_count(0)
    await bob.goto(f"{live_server}/search?q=tuesday")
    await expect(bob.locator("#search-results")).to_contain_text("No messages match")


async def test_reactions_count_live_with_who_gave_them_and_toggle_with_one_click(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await alice_and_bob_in_launch(open_window, live_server)
    await send_message(alice, "It shipped")
    theirs = bob.locator("#messages article", has_text="It shipped")
    mine = alice.locator("#messages article", has_text="It shipped")

    await theirs.hover()
    await theirs.get_by_role("button", name="Add a reaction").click()
    await theirs.get_by_role("button", name="🎉").click()

    party = mine.locator(".reaction")
    await expect(party).to_have_text("🎉 1")
    await expect(party).to_have_attribute("title", "Bob Okafor")
    await party.click()
    await expect(theirs.locator(".reaction")).to_have_text("🎉 2")
    await expect(theirs.locator(".reaction")).to_have_attribute("title", "Bob Okafor, Alice Martin")
    await theirs.locator(".reaction").click()
    await expect(party).to_have_text("🎉 1")
    await expect(party).to_have_attribute("title", "Alice Martin")


async def test_a_reply_quotes_its_original_and_the_quote_opens_the_room_at_it(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await alice_and_bob_in_launch(open_window, live_server)
    await send_message(alice, "Who brings the banner?")
    original = bob.locator("#messages article", has_text="Who brings the banner?")

    await original.hover()
    await original.get_by_role("button", name="Reply").click()
    await expect(bob.locator("#replying-to")).to_contain_text(
        "Replying to Alice Martin: Who brings the banner?"
    )
    await send_message(bob, "I will")

    reply = alice.locator("#messages article", has_text="I will")
    quote = reply.get_by_role("link", name="Alice Martin Who brings the banner?")
    await expect(quote).to_be_visible()
    await expect(bob.locator("#replying-to")).to_be_empty()
    await quote.click()
    await expect(alice).to_have_url(re.compile(r"/rooms/launch\?around=\d+#message-\d+$"))
    await expect(alice.locator("article.message:target")).to_contain_text("Who brings the banner?")


async def test_a_mention_is_chosen_from_suggestions_and_reaches_the_person_wherever_they_are(
    open_window: OpenWindow, live_server: str
) -> None:
    alice, bob = await alice_and_bob_in_launch(open_window, live_server)
    await alice.get_by_role("link", name="Rooms", exact=True).click()
    await expect(alice).to_have_title("Rooms · livechat")

    await composer(bob).press_sequentially("thanks @ali")
    suggestions = bob.get_by_role("group", name="People to mention")
    alice_offered = suggestions.get_by_role("button", name="Alice Martin @alice_martin")
    await expect(alice_offered).to_be_visible()
    # Chosen by keyboard: the offer is next after the message box.
    await composer(bob).press("Tab")
    await expect(alice_offered).to_be_focused()
    await bob.keyboard.press("Enter")
    await expect(composer(bob)).to_have_value("thanks @alice_martin ")
    await expect(composer(bob)).to_be_focused()
    await expect(suggestions).to_be_hidden()
    await composer(bob).press_sequentially("for the banner")
    await composer(bob).press("Enter")

    # Alice is on the room list: the count reaches her title, the top bar and the room.
    await expect(alice).to_have_title("(1) Rooms · livechat")
    await expect(alice.locator("#alert-count")).to_have_text("1 unread")
    launch = alice.locator("#rooms li", has_text="Launch")
    await expect(launch.locator(".badge-alert")).to_have_text("@ 1 unread mention")
    await launch.get_by_role("link").click()
    # It stands out for her alone.
    mention = alice.get_by_role("link", name="@alice_martin")
    await expect(mention).to_have_css("background-color", "rgb(255, 241, 194)")
    seen_by_bob = bob.get_by_role("link", name="@alice_martin")
    await expect(seen_by_bob).to_have_css("background-color", "rgba(0, 0, 0, 0)")
    await expect(alice).to_have_title("Launch · livechat")
    await expect(alice.locator("#alert-count")).to_be_hidden()
    await mention.click()
    await expect(alice.get_by_role("heading", name="Alice Martin")).to_be_visible()
