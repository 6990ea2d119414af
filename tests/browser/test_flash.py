"""A refusal is shown where it covers nothing the person is using: not the text they
typed, not the button that sends it, on a desktop or on a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import FloatRect, expect

from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import composer, create_room, register, send_until_refused

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"


def _overlap(one: FloatRect, other: FloatRect) -> bool:
    return not (
        one["x"] + one["width"] <= other["x"]
        or other["x"] + other["width"] <= one["x"]
        or one["y"] + one["height"] <= other["y"]
        or other["y"] + other["height"] <= one["y"]
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
async def test_a_refusal_leaves_the_composer_and_its_send_button_free(
    open_window: OpenWindow, live_server: str, width: int, height: int
) -> None:
    page = await open_window(width=width, height=height)
    await register(page, live_server, "Alice Martin", f"alice{width}@example.com", PASSWORD)
    await create_room(page, f"Launch {width}")

    await send_until_refused(page)
    flash = page.locator("#flash .flash")
    await expect(flash).to_contain_text("too fast")

    shown = await flash.bounding_box()
    typed = await composer(page).bounding_box()
    send = await page.get_by_role("button", name="Send").bounding_box()
    assert shown is not None
    assert typed is not None
    assert send is not None
    assert not _overlap(shown, typed)
    assert not _overlap(shown, send)
