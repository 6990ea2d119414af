"""The whole journey of two people, end to end, in two Chromium windows.

Set LIVECHAT_SCREENSHOTS to a folder (``make screenshots`` uses docs/screenshots) to have
the journey photograph the main pages at desktop and phone widths on its way.
"""

from __future__ import annotations

import io
import os
import random
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Page, expect

from tests.browser.conftest import OpenWindow, ServerProcess
from tests.browser.vocabulary import (
    composer,
    create_room,
    join_room,
    log_out,
    register,
    send_message,
    send_until_refused,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"
SCREENSHOTS = os.environ.get("LIVECHAT_SCREENSHOTS")
# What became of a message just sent, read at one moment: the composer empties once the
# server has it, and keeps the text beside a flash when the server refuses it.
# htmx's socket waits up to 1, 2, 4, 8... s between attempts while the server is down, so
# noticing that it is back can take longer than any other wait.
RECONNECT_TIMEOUT_MS = 40_000


async def photograph(page: Page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=Path(SCREENSHOTS) / f"{name}.png")  # creates the folder


def poster(path: Path) -> Path:
    image = Image.new("RGB", (960, 540), (79, 70, 229))
    draw = ImageDraw.Draw(image)
    draw.ellipse((380, 170, 580, 370), fill=(255, 214, 102))
    draw.rectangle((0, 420, 960, 540), fill=(49, 46, 129))
    # A band of noise, which PNG cannot compress, makes the file about 50 KB: over the slow
    # link below, the upload lasts a few seconds, and its progress bar cannot come and go
    # between two looks of the test, however loaded the machine.
    noise = random.Random(0).randbytes(960 * 16 * 3)
    image.paste(Image.frombytes("RGB", (960, 16), noise), (0, 524))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_two_people_go_through_the_whole_product(
    open_window: OpenWindow, server_process: ServerProcess, tmp_path: Path
) -> None:
    server = server_process.url
    alice, bob = await open_window(), await open_window(width=390, height=844)

    # Sign up; a room made by one appears in the other's list without a reload.
    await register(alice, server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, server, "Bob Okafor", "bob@example.com", PASSWORD)
    await create_room(alice, "Launch")
    await expect(bob.locator("#rooms")).to_contain_text("Launch")
    await join_room(bob, "Launch")

    # Presence, typing, and messages both ways.
    await expect(alice.locator("#presence")).to_contain_text("Bob Okafor")
    await expect(bob.locator("#presence")).to_contain_text("Alice Martin")
    await composer(bob).press_sequentially("Ready when")
    await expect(alice.locator("#typing")).to_have_text("Bob Okafor is typing…")
    await composer(bob).press("Enter")
    await expect(alice.locator("#typing")).to_have_text("")
    await expect(alice.locator("#messages")).to_contain_text("Ready when")
    await send_message(alice, "Great, here is the poster")
    await expect(bob.locator("#messages")).to_contain_text("here is the poster")

    await a_team_day(alice, bob, server)

    # An image, uploaded over a slow link so the progress bar shows.
    uplink = await alice.context.new_cdp_session(alice)
    await uplink.send("Network.enable")
    await uplink.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 200, "downloadThroughput": -1, "uploadThroughput": 20_000},
    )
    await alice.set_input_files("#upload-form input[type=file]", poster(tmp_path / "poster.png"))
    await expect(alice.locator("#upload-form progress")).to_be_visible()
    await expect(alice.locator("#upload-previews")).to_contain_text("poster.png")
    await uplink.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    await send_message(alice, "Launch poster, final version")
    shared = bob.locator("#messages article").last
    await expect(shared.locator("img")).to_have_attribute("width", "960")
    await photograph(alice, "room-desktop")
    await photograph(bob, "room-phone")

    # Found by search; the result opens the room at that message.
    await bob.goto(f"{server}/search")
    await bob.get_by_role("searchbox", name="Search messages").press_sequentially("poste")
    result = bob.locator("#search-results .search-result").first
    await expect(result.locator("mark").first).to_have_text(re.compile("poster", re.I))
    await photograph(bob, "search-phone")
    await alice.goto(f"{server}/search?q=poster")
    await photograph(alice, "search-desktop")
    await result.get_by_role("link").click()
    await expect(bob.locator("article.message:target")).to_contain_text("Launch poster")
    await alice.goto(f"{server}/rooms/launch")

    # The server restarts mid-conversation: a message sent while it is down arrives once.
    await expect(alice.locator("#presence")).to_contain_text("Bob Okafor")
    server_process.stop()
    reconnecting = bob.get_by_role("status").filter(has_text="Reconnecting")
    await expect(reconnecting).to_be_visible()
    await send_message_while_down(bob, "sent while the server was down")
    server_process.start()
    await expect(reconnecting).to_be_hidden(timeout=RECONNECT_TIMEOUT_MS)
    arrived = alice.locator("#messages article", has_text="sent while the server was down")
    await expect(arrived).to_have_count(1, timeout=RECONNECT_TIMEOUT_MS)
    await expect(composer(bob)).to_have_value("", timeout=RECONNECT_TIMEOUT_MS)

    # Too fast: a burst past ten messages is refused with the wait, and the text is kept.
    refused = await send_until_refused(alice)
    await expect(alice.locator("#flash")).to_contain_text(
        re.compile(r"sending messages too fast, try again in \d+ s")
    )
    await expect(composer(alice)).to_have_value(refused)

    # A private room is invisible to a non-member, in the list and at its address.
    await alice.goto(f"{server}/rooms")
    await create_room(alice, "Board", private=True)
    await alice.goto(f"{server}/rooms")
    await bob.goto(f"{server}/rooms")
    await expect(bob.locator("#rooms")).not_to_contain_text("Board")
    response = await bob.goto(f"{server}/rooms/board")
    assert response is not None
    assert response.status == 404
    await expect(bob.get_by_text("does not exist")).to_be_visible()

    await photograph(alice, "rooms-desktop")
    await alice.goto(f"{server}/profile")
    await photograph(alice, "profile-desktop")
    await bob.goto(f"{server}/profile")
    await photograph(bob, "profile-phone")
    await log_out(alice)
    await log_out(bob)
    await expect(alice).to_have_url(f"{server}/users/log_in")
    await photograph(alice, "log-in-desktop")
    await expect(bob).to_have_url(f"{server}/users/log_in")


async def a_team_day(alice: Page, bob: Page, server: str) -> None:
    """What a team does all day beyond talking: edit, react, reply, mention, catch up on
    what came while away, and talk one to one. Both end on Launch again."""
    # Bob edits his message in place; Alice reacts to it and answers it.
    mine = bob.locator("#messages article", has_text="Ready when")
    await mine.hover()
    await mine.get_by_role("button", name="Edit message").click()
    editor = mine.get_by_role("textbox", name="Edit your message")
    await editor.fill("Ready when you are")
    await editor.press("Enter")
    theirs = alice.locator("#messages article", has_text="Ready when you are")
    await expect(theirs.locator(".message-edited")).to_have_text("(edited)")
    await theirs.hover()
    await theirs.get_by_role("button", name="Add a reaction").click()
    await theirs.get_by_role("button", name="🎉").click()
    await expect(mine.locator(".reaction")).to_have_text("🎉 1")
    await theirs.hover()
    await theirs.get_by_role("button", name="Reply").click()
    await expect(alice.locator("#replying-to")).to_contain_text("Replying to Bob Okafor")
    await send_message(alice, "Then let's go")
    reply = bob.locator("#messages article", has_text="Then let's go")
    await expect(reply.locator(".message-quote")).to_contain_text("Ready when you are")

    # Away on the room list, Bob is mentioned, chosen from what the composer offers, and
    # sees what came meanwhile counted; opening the room marks where it begins.
    await bob.goto(f"{server}/rooms")
    await expect(bob).to_have_title("Rooms · livechat")
    await composer(alice).press_sequentially("Checklist for @bo")
    await alice.get_by_role("button", name="Bob Okafor @bob_okafor").click()
    await composer(alice).press_sequentially("tonight")
    await composer(alice).press("Enter")
    await expect(composer(alice)).to_have_value("")
    await send_message(alice, "And the banner is printed")
    await expect(bob).to_have_title("(1) Rooms · livechat")
    launch = bob.locator("#rooms li", has_text="Launch")
    await expect(launch.locator(".badge-alert")).to_have_text("@ 1 unread mention")
    await expect(launch.locator("[id$='-unread']")).to_have_text("2 unread messages")
    await photograph(bob, "rooms-phone")
    await launch.get_by_role("link").click()
    new = bob.get_by_role("separator", name="New messages")
    await expect(new).to_be_visible()
    await expect(bob.get_by_role("link", name="@bob_okafor")).to_be_visible()
    await expect(bob).to_have_title("Launch · livechat")

    # One to one: from Alice's name in the sidebar to a conversation of their own.
    await bob.locator("#presence").get_by_role("link", name="Alice Martin").click()
    await bob.get_by_role("button", name="Message Alice Martin").click()
    await expect(bob.get_by_role("heading", name="Alice Martin (direct message)")).to_be_visible()
    await send_message(bob, "Lunch after the launch?")
    await expect(alice).to_have_title("(1) Launch · livechat")
    await expect(alice.locator("#alert-count")).to_have_text("1 unread")
    await alice.get_by_role("link", name="Mentions").click()
    await expect(alice.locator(".mention-list")).to_contain_text("Lunch after the launch?")
    await photograph(alice, "mentions-desktop")
    await alice.get_by_role("link", name="Rooms", exact=True).click()
    direct = alice.locator("#direct-rooms li", has_text="Bob Okafor")
    await direct.get_by_role("link").click()
    await expect(alice.locator("#messages")).to_contain_text("Lunch after the launch?")
    await alice.goto(f"{server}/rooms/launch")
    await bob.goto(f"{server}/rooms/launch")


async def send_message_while_down(page: Page, text: str) -> None:
    """Type and press Enter while the socket is closed: htmx keeps the frame and sends it
    when it reconnects, and the text stays in the composer until the server has it."""
    await composer(page).fill(text)
    await composer(page).press("Enter")
    await expect(composer(page)).to_have_value(text)
