"""What a person does in livechat, in words the browser tests share."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def register(page: Page, server: str, name: str, email: str, password: str) -> None:
    page.goto(f"{server}/users/register")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{server}/rooms")


def log_in(page: Page, server: str, email: str, password: str) -> None:
    page.goto(f"{server}/users/log_in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def create_room(page: Page, name: str, *, private: bool = False) -> None:
    page.get_by_label("Name").fill(name)
    if private:
        page.get_by_label("Private").check()
    page.get_by_role("button", name="Create room").click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
