"""A room's history in the browser: opened at an old message, nothing in between is lost."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.db import Database
from livechat.settings import Settings
from tests.browser.vocabulary import register, send_message, settled

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"
SCROLL_TO_THE_END = "scroller => { scroller.scrollTop = scroller.scrollHeight; }"
# The gap filled a little more, or is gone: the last page may land as the check is made.
MORE_OR_NO_GAP = """shown => document.querySelectorAll("#messages article.message").length > shown
    || !document.querySelector(".history-gap")"""


async def seed(settings: Settings, email: str, count: int) -> tuple[str, list[int]]:
    """A room of ``count`` messages by the person with ``email``, stored before any page
    opens it: its slug and the messages' ids."""
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            author = (await session.scalars(select(User).filter_by(email=email))).one()
        room = await rooms.create_room(db, author, name="Archive")
        posted = [
            await messages.create_message(db, author, room.slug, f"message number {n}")
            for n in range(1, count + 1)
        ]
        return room.slug, [each.message.id for each in posted]
    finally:
        await db.dispose()


async def test_scrolling_down_from_an_old_message_fills_the_gap_before_live_messages(
    page: Page, live_server: str, settings: Settings
) -> None:
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    slug, ids = await seed(settings, "dana@example.com", 120)

    await page.goto(f"{live_server}/rooms/{slug}?around={ids[4]}#message-{ids[4]}")
    await settled(page)
    shown = page.locator("#messages article.message")
    gap = page.locator(".history-gap")
    await expect(shown).to_have_count(30)
    await expect(gap).to_have_text("90 newer messages · loading as you scroll")

    await send_message(page, "live after the gap")
    scroller = page.locator(".messages-scroller")
    # 50 a page: a page that lands with the next gap in view loads that one at once.
    while await gap.count():
        before = await shown.count()
        await scroller.evaluate(SCROLL_TO_THE_END)
        await page.wait_for_function(MORE_OR_NO_GAP, arg=before)

    await expect(shown).to_have_count(121)  # and the live message, after them all along
    bodies = await page.locator("#messages .message-body").all_text_contents()
    assert bodies == [f"message number {n}" for n in range(1, 121)] + ["live after the gap"]
