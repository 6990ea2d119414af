"""/metrics: what a scrape shows after real pages chat on a real uvicorn, and who may scrape."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from livechat.accounts.models import User
from livechat.app import create_app
from livechat.chat.models import Room
from livechat.realtime.events import MessagePosted
from livechat.realtime.hub import Broadcast, room_topic
from livechat.realtime.rooms import RoomRequest, RoomServer
from livechat.settings import ConfigurationError, Settings
from tests.helpers import next_batch
from tests.live import LiveServer, room_page, serving

TOKEN = "a-metrics-token-long-enough-not-to-be-guessed"
REMOTE = ("203.0.113.7", 40000)
SCRAPE_TIMEOUT_S = 5.0
SCRAPE_AGAIN_S = 0.02


class Samples:
    """One scrape, parsed: ``samples("name", label="value")`` is that series' value."""

    def __init__(self, exposition: str) -> None:
        self._values = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self._values[(name, tuple(sorted(labels.items())))]

    def labels(self, name: str) -> set[tuple[tuple[str, str], ...]]:
        return {labels for sample, labels in self._values if sample == name}


async def scrape(server: LiveServer) -> Samples:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Samples(response.text)


async def scrape_until(server: LiveServer, done: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``done`` holds, for what the server does after the client is through
    with it (letting go of a closed socket), which only the metrics themselves show."""
    async with asyncio.timeout(SCRAPE_TIMEOUT_S):
        while True:
            samples = await scrape(server)
            if done(samples):
                return samples
            await asyncio.sleep(SCRAPE_AGAIN_S)


def acknowledged_or_refused(html: str) -> bool:
    return 'id="message-form"' in html or 'id="flash"' in html


async def test_a_posted_message_is_counted_once_and_timed_from_frame_to_acknowledgement(
    server: LiveServer, general: Room, alice: User
) -> None:
    async with room_page(server, alice, general) as page:
        key = uuid.uuid4().hex
        await page.say("counted", key)
        await page.expect('id="message-form"')
        await page.say("counted", key)  # a resend: acknowledged again, stored once
        await page.expect('id="message-form"')

        samples = await scrape(server)

    assert samples("livechat_messages_posted_total") == 1
    assert samples("livechat_send_to_ack_seconds_count") == 2
    assert samples("livechat_send_to_ack_seconds_sum") > 0
    assert samples("livechat_db_write_seconds_count") >= 1
    assert samples("livechat_db_write_queue") == 0
    assert samples("livechat_room_servers") == 1


async def test_a_rate_limited_message_is_counted_as_refused_for_that_reason(
    server: LiveServer, general: Room, alice: User
) -> None:
    async with room_page(server, alice, general) as page:
        for sent in range(1, 30):
            await page.say(f"burst {sent}")
            if "too fast" in await page.expect(acknowledged_or_refused):
                break

        samples = await scrape(server)

    assert samples("livechat_messages_refused_total", reason="rate_limited") == 1
    assert samples("livechat_messages_posted_total") == sent - 1
    assert samples("livechat_send_to_ack_seconds_count") == sent - 1


async def test_an_empty_message_is_counted_as_a_bad_request_and_not_as_posted(
    server: LiveServer, general: Room, alice: User
) -> None:
    async with room_page(server, alice, general) as page:
        await page.say("   ")
        await page.expect("be empty")

        samples = await scrape(server)

    assert samples("livechat_messages_refused_total", reason="bad_request") == 1
    assert samples("livechat_messages_refused_total", reason="rate_limited") == 0
    assert samples("livechat_messages_posted_total") == 0


async def test_open_sockets_go_up_with_each_page_and_down_as_they_close(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    assert (await scrape(server))("livechat_open_sockets") == 0

    async with room_page(server, alice, general):
        async with room_page(server, bob, general):
            assert (await scrape(server))("livechat_open_sockets") == 2
        await scrape_until(server, lambda samples: samples("livechat_open_sockets") == 1)

    await scrape_until(server, lambda samples: samples("livechat_open_sockets") == 0)


async def test_a_room_server_restart_is_counted_for_all_rooms_together(
    server: LiveServer, general: Room, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = RoomServer.handle

    async def crash_once(room_server: RoomServer, request: RoomRequest) -> object:
        monkeypatch.setattr(RoomServer, "handle", handle)
        raise RuntimeError("a bug in the room server")

    async with room_page(server, alice, general) as page:
        monkeypatch.setattr(RoomServer, "handle", crash_once)
        await page.say("crashes the server")
        await page.expect("Something went wrong on our side")

        # Only a running server can acknowledge this: the crashed one was restarted.
        await page.say("after the restart")
        await page.expect('id="message-form"')

        samples = await scrape(server)

    assert samples("livechat_supervisor_restarts_total", supervisor="rooms", child="room") == 1
    assert samples("livechat_messages_refused_total", reason="error") == 1
    assert samples.labels("livechat_supervisor_restarts_total") == {
        (("child", child), ("supervisor", "livechat"))
        for child in ("hub", "presence", "rate-limiter", "rooms", "janitor")
    } | {(("child", "room"), ("supervisor", "rooms"))}


async def test_broadcasts_a_subscriber_too_far_behind_never_got_are_counted(
    settings: Settings, general: Room
) -> None:
    small = settings.model_copy(update={"subscriber_queue_size": 2})
    async with serving(small) as server:
        hub = server.realtime.hub
        async with hub.subscribe(room_topic(general.id)) as never_reads:
            for n in range(3):
                await hub.publish(
                    room_topic(general.id),
                    Broadcast(MessagePosted(general.id, n + 1, 1), seq=n + 1),
                )
            async with asyncio.timeout(SCRAPE_TIMEOUT_S):
                assert await next_batch(never_reads) is None  # it fell too far behind

            samples = await scrape(server)

    assert samples("livechat_broadcasts_dropped_total") == 3


async def scrape_as(
    app: FastAPI, client: tuple[str, int], headers: dict[str, str] | None = None
) -> httpx.Response:
    """A scrape of ``app`` from the address ``client``, as the server would see it."""
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        return await http.get("/metrics", headers=headers)


@pytest.fixture
def open_app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def guarded_app(settings: Settings) -> FastAPI:
    return create_app(settings.model_copy(update={"metrics_token": TOKEN}))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.42.0.9", "::1", "::ffff:127.0.0.1"])
async def test_this_machine_may_scrape_without_a_token(open_app: FastAPI, host: str) -> None:
    response = await scrape_as(open_app, (host, 40000))

    assert response.status_code == 200
    assert "livechat_messages_posted_total 0.0" in response.text


@pytest.mark.parametrize("host", [REMOTE[0], "::ffff:203.0.113.7", "2001:db8::7", "testclient"])
async def test_another_machine_finds_nothing_while_no_token_is_set(
    open_app: FastAPI, host: str
) -> None:
    response = await scrape_as(open_app, (host, 40000), {"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 404
    assert "livechat_" not in response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN],
)
async def test_another_machine_without_the_right_token_is_asked_for_it(
    guarded_app: FastAPI, authorization: str | None
) -> None:
    headers = None if authorization is None else {"Authorization": authorization}

    response = await scrape_as(guarded_app, REMOTE, headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "livechat_" not in response.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_another_machine_with_the_token_may_scrape(guarded_app: FastAPI, scheme: str) -> None:
    response = await scrape_as(guarded_app, REMOTE, {"Authorization": f"{scheme} {TOKEN}"})

    assert response.status_code == 200
    assert "livechat_open_sockets" in response.text


@pytest.mark.parametrize("forwarded_for", [REMOTE[0], f"127.0.0.1, {REMOTE[0]}"])
async def test_a_scrape_a_local_proxy_relays_for_another_machine_is_not_local(
    server: LiveServer, forwarded_for: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/metrics", headers={"X-Forwarded-For": forwarded_for})

    assert response.status_code == 404


def test_a_metrics_token_short_enough_to_guess_is_refused(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="LIVECHAT_METRICS_TOKEN"):
        Settings(**{**settings.model_dump(), "metrics_token": "short"})
