"""A newcomer's first minute, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.vocabulary import create_room, log_in, log_out, register

pytestmark = pytest.mark.browser

PASSWORD = "a perfectly fine passphrase"


def test_a_newcomer_registers_sees_the_room_list_creates_a_room_and_logs_out(
    page: Page, live_server: str
) -> None:
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )

    register(page, live_server, "Dana Scully", "dana@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Rooms", exact=True)).to_be_visible()
    expect(page.get_by_text("No rooms yet.")).to_be_visible()

    create_room(page, "X-Files")
    expect(page).to_have_url(f"{live_server}/rooms/x-files")
    page.get_by_role("link", name="Rooms").click()
    expect(page.locator("#rooms")).to_contain_text("X-Files")
    expect(page.locator("#rooms")).to_contain_text("1 member")

    log_out(page)
    expect(page).to_have_url(f"{live_server}/users/log_in")
    page.goto(f"{live_server}/rooms")
    expect(page).to_have_url(f"{live_server}/users/log_in")
    assert problems == []  # no CSP violation, no script error


def test_a_wrong_password_is_explained_in_the_form(page: Page, live_server: str) -> None:
    register(page, live_server, "Fox Mulder", "fox@example.com", PASSWORD)
    log_out(page)

    log_in(page, live_server, "fox@example.com", "i want to believe")

    expect(page.get_by_role("alert").filter(has_text="do not match")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("fox@example.com")


def test_htmx_is_configured_without_eval(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/users/log_in")

    assert page.evaluate("htmx.config.allowEval") is False
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
