"""A newcomer's first minute, in Chromium."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.vocabulary import create_room, log_in, log_out, register

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"


async def test_a_newcomer_registers_sees_the_room_list_creates_a_room_and_logs_out(
    page: Page, live_server: str
) -> None:
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )

    await register(page, live_server, "Dana Scully", "dana@example.com", PASSWORD)
    await expect(page.get_by_role("heading", name="Rooms", exact=True)).to_be_visible()
    await expect(page.get_by_text("No rooms yet.")).to_be_visible()

    await create_room(page, "X-Files")
    await expect(page).to_have_url(f"{live_server}/rooms/x-files")
    await page.get_by_role("link", name="Rooms").click()
    await expect(page.locator("#rooms")).to_contain_text("X-Files")
    await expect(page.locator("#rooms")).to_contain_text("1 member")

    await log_out(page)
    await expect(page).to_have_url(f"{live_server}/users/log_in")
    await page.goto(f"{live_server}/rooms")
    await expect(page).to_have_url(f"{live_server}/users/log_in")
    assert problems == []  # no CSP violation, no script error


async def test_a_wrong_password_is_explained_in_the_form(page: Page, live_server: str) -> None:
    await register(page, live_server, "Fox Mulder", "fox@example.com", PASSWORD)
    await log_out(page)

    await log_in(page, live_server, "fox@example.com", "i want to believe")

    await expect(page.get_by_role("alert").filter(has_text="do not match")).to_be_visible()
    await expect(page.get_by_label("Email")).to_have_value("fox@example.com")


async def test_htmx_is_configured_without_eval(page: Page, live_server: str) -> None:
    await page.goto(f"{live_server}/users/log_in")

    await page.wait_for_function(
        "htmx.config.allowEval === false && htmx.config.includeIndicatorStyles === false"
    )
