"""Searching as you type in Chromium, and landing on the message found."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.vocabulary import create_room, register, send_message, settled

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"


async def test_typing_updates_highlighted_results_and_a_result_opens_the_message(
    page: Page, live_server: str
) -> None:
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Launch")
    await send_message(page, "The café opens at nine")
    for number in range(5):  # within the rate limit's burst
        await send_message(page, f"filler {number}")

    await page.get_by_role("link", name="Search").click()
    search_box = page.get_by_role("searchbox", name="Search messages")
    await expect(search_box).to_be_visible()
    await settled(page)
    await search_box.press_sequentially("fil", delay=50)
    await expect(page.locator("#search-results mark").first).to_have_text("filler")
    await search_box.fill("")
    await search_box.press_sequentially("cafe", delay=50)

    results = page.locator("#search-results .search-result")
    await expect(results).to_have_count(1)
    await expect(results.locator("mark")).to_have_text("café")
    await expect(page).to_have_url(f"{live_server}/search?q=cafe&scope=mine")

    await results.get_by_role("link").click()
    await expect(page).to_have_url(re.compile(r"/rooms/launch\?around=\d+#message-\d+$"))
    target = page.locator("article.message:target")
    await expect(target).to_contain_text("The café opens at nine")
    await expect(target).to_be_in_viewport()


async def test_pasted_text_is_searched_without_a_key_being_pressed(
    page: Page, live_server: str
) -> None:
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Launch")
    await send_message(page, "The café opens at nine")
    await page.goto(f"{live_server}/search")
    await settled(page)

    # fill() sets the text as a paste or an autofill would: an input event, no keys.
    await page.get_by_role("searchbox", name="Search messages").fill("cafe")

    await expect(page.locator("#search-results mark")).to_have_text("café")


async def test_choosing_public_rooms_searches_rooms_never_joined(
    page: Page, live_server: str
) -> None:
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Launch")
    await send_message(page, "The café opens at nine")
    await page.get_by_role("button", name="Leave").click()
    await page.goto(f"{live_server}/search")
    await settled(page)
    await page.get_by_role("searchbox", name="Search messages").fill("cafe")
    await expect(page.locator("#search-results")).to_contain_text("No messages match")

    await page.get_by_label("Where to search").select_option(
        label="In my rooms and all public rooms"
    )

    await expect(page.locator("#search-results mark")).to_have_text("café")
    await expect(page).to_have_url(f"{live_server}/search?q=cafe&scope=public")
