"""Times as each reader reads them: in their browser's time zone, or their profile's, with
a divider where a day begins and one person's run of messages shown as one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.vocabulary import create_room, join_room, register, send_message

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"


async def window_in(browser: Browser, zone: str) -> Page:
    context = await browser.new_context(timezone_id=zone, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    return await context.new_page()


async def test_each_reader_sees_times_in_their_zone_with_days_and_runs(
    browser: Browser, live_server: str
) -> None:
    tokyo, new_york = (
        await window_in(browser, "Asia/Tokyo"),
        await window_in(browser, "America/New_York"),
    )
    try:
        await register(tokyo, live_server, "Kenji Sato", "kenji@example.com", PASSWORD)
        await register(new_york, live_server, "Maya Ortiz", "maya@example.com", PASSWORD)
        await create_room(tokyo, "Follow the sun")
        await join_room(new_york, "Follow the sun")

        await send_message(tokyo, "good morning from Tokyo")
        await send_message(tokyo, "and a second thought")

        for page, zone in ((tokyo, "Asia/Tokyo"), (new_york, "America/New_York")):
            first = page.locator("#messages article", has_text="good morning from Tokyo")
            second = page.locator("#messages article", has_text="and a second thought")
            moment = first.locator("time")
            at = datetime.fromisoformat(await moment.get_attribute("datetime") or "")
            local = at.astimezone(ZoneInfo(zone))
            await expect(moment).to_have_text(f"{local:%H:%M}")
            await expect(page.locator(".day-divider").last).to_have_text(f"{local:%A %-d %B %Y}")
            await expect(second).to_have_class("message message-continued")
            await expect(second.locator(".message-author")).not_to_be_in_viewport()
            await expect(first.locator(".message-author")).to_be_visible()
    finally:
        await tokyo.context.close()
        await new_york.context.close()


async def test_a_zone_chosen_in_the_profile_wins_over_the_browsers(
    browser: Browser, live_server: str
) -> None:
    page = await window_in(browser, "Asia/Tokyo")
    try:
        await register(page, live_server, "Kenji Sato", "kenji@example.com", PASSWORD)
        await create_room(page, "Travel")
        await send_message(page, "landed")
        await page.goto(f"{live_server}/profile")
        await page.get_by_label("Time zone").select_option("Europe/Lisbon")
        await page.get_by_role("button", name="Save profile").click()
        await expect(page.get_by_text("Your profile is saved.")).to_be_visible()

        await page.goto(f"{live_server}/rooms/travel")

        moment = page.locator("#messages article time")
        at = datetime.fromisoformat(await moment.get_attribute("datetime") or "")
        await expect(moment).to_have_text(f"{at.astimezone(ZoneInfo('Europe/Lisbon')):%H:%M}")
    finally:
        await page.context.close()
