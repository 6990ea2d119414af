"""What a person does in livechat, in words the browser tests share."""

from __future__ import annotations

import re

from playwright.async_api import Locator, Page, expect


async def register(page: Page, server: str, name: str, email: str, password: str) -> None:
    await page.goto(f"{server}/users/register")
    await page.get_by_label("Display name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{server}/rooms")


async def log_in(page: Page, server: str, email: str, password: str) -> None:
    await page.goto(f"{server}/users/log_in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


async def create_room(page: Page, name: str, *, private: bool = False) -> None:
    await page.get_by_label("Name").fill(name)
    if private:
        await page.get_by_label("Private").check()
    await page.get_by_role("button", name="Create room").click()
    heading = re.compile(rf"^{re.escape(name)}( \(private\))?$")
    await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await settled(page)


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="Log out").click()


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name=re.compile(r"^Message "))


async def send_message(page: Page, text: str) -> None:
    await composer(page).fill(text)
    await composer(page).press("Enter")
    await expect(composer(page)).to_have_value("")  # cleared by the server's acknowledgement


SENT_OR_REFUSED = """() =>
    document.querySelector("#message-body").value === "" ? "sent"
    : document.querySelector("#flash").textContent.includes("too fast") ? "refused"
    : false"""


async def send_until_refused(page: Page, tries: int = 20) -> str:
    """Send message after message, each once the last is answered, until one is refused
    as too fast; the text of the refused one."""
    for number in range(tries):
        text = f"burst {number}"
        await composer(page).fill(text)
        await composer(page).press("Enter")
        outcome = await page.wait_for_function(SENT_OR_REFUSED)
        if await outcome.json_value() == "refused":
            return text
    raise AssertionError(f"{tries} messages in a row were all sent")


async def join_room(page: Page, name: str) -> None:
    await page.locator("#rooms").get_by_role("link", name=name).click()
    await page.get_by_role("button", name="Join room").click()
    await expect(composer(page)).to_be_visible()
    await settled(page)


async def settled(page: Page) -> None:
    """Wait until the page just opened has loaded. A page shows before htmx has wired it
    up, and a file chosen or a word typed in that moment never reaches the server."""
    await page.wait_for_load_state("load")


# Marks a page's body once its socket has opened; add it before the page loads.
MARK_CONNECTED = """document.addEventListener("htmx:wsOpen", () => {
    document.body.dataset.connected = "yes";
});"""


async def connected(page: Page) -> None:
    """Wait until the page's socket is open (with ``MARK_CONNECTED`` added to the page):
    what happens from then on reaches it live."""
    await expect(page.locator("body")).to_have_attribute("data-connected", "yes")
