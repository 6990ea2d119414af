"""The health check: 200 while every process of the tree runs, 503 once one is down."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from livechat.app import create_app
from livechat.realtime.presence import Presence
from livechat.settings import Settings
from tests.live import free_port


async def test_the_health_check_answers_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "down": [],
        "rooms_running": 0,
        "rooms_resting": 0,
        "recent_posters": 0,
    }


async def test_a_tree_that_gave_up_answers_503_and_asks_to_stop_the_process(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(_presence: Presence) -> None:
        raise RuntimeError("presence is broken for good")

    monkeypatch.setattr(Presence, "tick", crash)  # every quarter second, from its start
    gave_up = asyncio.Event()
    fatal: list[BaseException] = []

    def stop(error: BaseException) -> None:
        fatal.append(error)
        gave_up.set()

    app = create_app(settings, on_fatal=stop)
    async with app.router.lifespan_context(app):
        async with asyncio.timeout(5):
            await gave_up.wait()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            response = await http.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["down"] == ["livechat"]
    assert len(fatal) == 1


async def test_a_hub_cut_off_from_redis_answers_503_without_giving_up(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    fatal: list[BaseException] = []
    app = create_app(unreachable, on_fatal=fatal.append)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
            response = await http.get("/healthz")

    assert response.status_code == 503
    assert "hub" in response.json()["down"]
    assert fatal == [], "an outage is waited out, not taken for a crash"
