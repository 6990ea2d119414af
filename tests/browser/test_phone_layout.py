"""On a phone, 390 px wide, pages fit the screen: nothing scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import create_room, register

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"
PHONE_WIDTH = 390


async def test_the_room_list_fits_a_phone_with_every_pill_in_view(
    open_window: OpenWindow, live_server: str
) -> None:
    phone = await open_window(width=PHONE_WIDTH, height=844)
    await register(phone, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await phone.get_by_label("Description").fill(
        "Critiques, mock-ups and colour debates, long enough to need more than a line"
    )
    await create_room(phone, "Design reviews and everything around them")
    await phone.goto(f"{live_server}/rooms")
    await expect(phone.locator("#rooms > li")).to_have_count(1)

    page_width = await phone.evaluate("document.documentElement.scrollWidth")
    edges = await phone.locator("#rooms > li, #rooms .pill").evaluate_all(
        "elements => elements.map(e => e.getBoundingClientRect().right)"
    )

    assert page_width <= PHONE_WIDTH
    assert edges
    assert max(edges) <= PHONE_WIDTH
