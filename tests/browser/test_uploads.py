"""Sharing an image and a document between two Chromium windows."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Page, expect

from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import composer, create_room, join_room, register

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"


def noisy_png(path: Path, side: int) -> Path:
    """A PNG that does not compress, so that uploading it takes measurable time."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_an_image_and_a_pdf_are_uploaded_with_progress_previewed_and_seen_by_others(
    open_window: OpenWindow, live_server: str, tmp_path: Path
) -> None:
    photo = noisy_png(tmp_path / "photo.png", 700)  # about 1.5 MB
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    alice, bob = await open_window(), await open_window()
    await register(alice, live_server, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, live_server, "Bob Okafor", "bob@example.com", PASSWORD)
    await create_room(alice, "Design")
    await join_room(bob, "Design")

    # A slow uplink, so the progress bar has time to be seen moving.
    network = await alice.context.new_cdp_session(alice)
    await network.send("Network.enable")
    await network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 500_000},
    )
    await alice.set_input_files("#upload-form input[type=file]", photo)
    progress = alice.locator("#upload-form progress")
    await expect(progress).to_be_visible()
    await expect(progress).not_to_have_attribute("value", "0")
    await expect(alice.locator("#upload-previews .upload-preview")).to_contain_text("photo.png")
    await network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    await alice.set_input_files("#upload-form input[type=file]", plan)
    await expect(alice.locator("#upload-previews .upload-preview")).to_have_count(2)
    await composer(alice).fill("The mock-up and the plan")
    await composer(alice).press("Enter")

    shared = bob.locator("#messages article").last
    await expect(shared).to_contain_text("The mock-up and the plan")
    image = shared.locator("img[loading=lazy]")
    await expect(image).to_have_attribute("width", "700")
    await expect(image).to_have_js_property("complete", True)
    await expect(image).to_have_js_property("naturalWidth", 700)  # loaded, not broken
    await expect(shared.get_by_role("link", name="plan.pdf")).to_have_attribute(
        "download", "plan.pdf"
    )
    await expect(alice.locator("#upload-previews .upload-preview")).to_have_count(0)


async def test_a_file_pretending_to_be_an_image_is_refused_in_the_preview_area(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    fake = tmp_path / "invoice.png"
    fake.write_bytes(b"MZ\x90\x00" + bytes(200))
    await register(page, live_server, "Dana", "dana@example.com", PASSWORD)
    await create_room(page, "Notes")

    await page.set_input_files("#upload-form input[type=file]", fake)

    await expect(page.locator("#upload-previews .upload-rejected")).to_have_text(
        "invoice.png is not a valid image."
    )
