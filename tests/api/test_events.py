"""The event stream against a real server: live events for the caller's rooms, and a
resume from ``Last-Event-ID`` that loses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from livechat.accounts import tokens
from livechat.accounts.models import User
from livechat.accounts.tokens import Scope
from livechat.api import stream
from livechat.chat import messages, rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.settings import Settings
from livechat.web.sockets import OpenSockets
from tests.api.conftest import Call
from tests.helpers import eventually
from tests.live import FRAME_TIMEOUT_S, LiveServer, serving, submit_as


@dataclass(frozen=True)
class Event:
    kind: str
    id: str | None
    data: dict[str, Any]


class Listener:
    """An open stream, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments = 0
        self.caught_up: list[Event] = []  # what came before "ready": what was missed
        self.ready: Event | None = None

    async def next(self) -> Event:
        kind, event_id, data = "message", None, ""
        async with asyncio.timeout(FRAME_TIMEOUT_S):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("id: "):
                    event_id = line.removeprefix("id: ")
                elif line.startswith("data: "):
                    data = line.removeprefix("data: ")
                elif line == "" and data:
                    return Event(kind, event_id, json.loads(data))
        raise AssertionError("the stream ended")

    async def until(self, kind: str) -> Event:
        while (event := await self.next()).kind != kind:
            pass
        return event


@asynccontextmanager
async def listening(
    client: httpx.AsyncClient, *, last_event_id: str | None = None, **params: Any
) -> AsyncIterator[Listener]:
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    async with client.stream("GET", "/events", params=params, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        listener = Listener(response)
        while (event := await listener.next()).kind != "ready":
            listener.caught_up.append(event)
        listener.ready = event
        yield listener


@pytest.fixture
async def lounge(db: Database, alice: User) -> Room:
    """A public room of Alice's that Bob has not joined."""
    return await rooms.create_room(db, alice, name="Lounge")


async def post(client: httpx.AsyncClient, room: Room, body: str) -> dict[str, Any]:
    response = await client.post(f"/rooms/{room.id}/messages", json={"body": body})
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


async def test_a_stream_tells_of_every_change_to_a_message_with_where_the_room_stands(
    api: Call, alice: User, bob: User, general: Room
) -> None:
    alices, bobs = await api(alice), await api(bob, Scope.READ)
    async with listening(bobs) as bob_listens:
        posted = await post(alices, general, "Lunch at <noon>?")
        created = await bob_listens.next()
        await alices.patch(f"/rooms/{general.id}/messages/{posted['id']}", json={"body": "1pm?"})
        updated = await bob_listens.next()
        await alices.delete(f"/rooms/{general.id}/messages/{posted['id']}")
        deleted = await bob_listens.next()

    assert (created.kind, updated.kind, deleted.kind) == (
        "message.created", "message.updated", "message.deleted",
    )  # fmt: skip
    assert created.data["message"]["body"] == "Lunch at <noon>?"
    assert updated.data["message"]["body"] == "1pm?"
    assert deleted.data["message"]["deleted"]
    assert created.id == f"{general.id}:{posted['seq']}:{posted['id']}"
    assert deleted.id == f"{general.id}:{posted['seq'] + 2}:{posted['id']}"


async def test_a_stream_resumed_from_its_last_id_gets_what_it_missed_once_then_goes_on_live(
    api: Call, alice: User, bob: User, general: Room
) -> None:
    alices, bobs = await api(alice), await api(bob, Scope.READ)
    async with listening(bobs) as first:
        seen = await post(alices, general, "before the drop")
        left_off = (await first.next()).id
    assert left_off is not None

    await alices.patch(f"/rooms/{general.id}/messages/{seen['id']}", json={"body": "edited"})
    missed = [await post(alices, general, f"missed {n}") for n in range(3)]
    async with listening(bobs, last_event_id=left_off) as resumed:
        live = await post(alices, general, "after the drop")
        next_live = await resumed.next()

    assert [(e.kind, e.data["message"]["id"]) for e in resumed.caught_up] == [
        ("message.updated", seen["id"]),
        *[("message.created", message["id"]) for message in missed],
    ]
    assert (next_live.kind, next_live.data["message"]["id"]) == ("message.created", live["id"])


async def test_a_message_stored_but_never_published_reaches_the_stream_with_the_next(
    db: Database, api: Call, alice: User, bob: User, general: Room
) -> None:
    bobs = await api(bob, Scope.READ)
    async with listening(bobs) as bob_listens:
        # Stored, and never published: as if its room server crashed between the two.
        await messages.create_message(db, alice, general.id, "stored behind the hub's back")
        await post(await api(alice), general, "published")
        heard = [await bob_listens.next() for _ in range(2)]

    assert [e.data["message"]["body"] for e in heard] == [
        "stored behind the hub's back",
        "published",
    ]


async def test_a_room_that_changed_too_much_while_away_is_resynced(
    db: Database, api: Call, alice: User, bob: User, general: Room
) -> None:
    bobs = await api(bob, Scope.READ)
    async with listening(bobs, room_id=general.id) as first:
        await post(await api(alice), general, "seen")
        left_off = (await first.next()).id
    for n in range(messages.REPLAY_LIMIT + 1):
        await messages.create_message(db, alice, general.id, f"flood {n}")

    async with listening(bobs, last_event_id=left_off) as resumed:
        [resync] = resumed.caught_up

    assert resync.kind == "resync"
    assert resync.data["room_id"] == general.id
    assert resync.id is not None
    assert resync.id.startswith(f"{general.id}:")


async def test_a_stream_follows_only_the_rooms_the_token_reaches_and_its_owner_is_in(
    db: Database, api: Call, alice: User, bob: User, general: Room
) -> None:
    other = await rooms.create_room(db, alice, name="Other")
    await rooms.join_room(db, bob, other.slug)
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    alices = await api(alice)
    kept = await api(bob, Scope.READ, room_ids=[general.id])

    async with listening(kept) as bob_listens:
        await post(alices, secret, "private matters")
        await post(alices, other, "elsewhere")
        await post(alices, general, "here")
        heard = await bob_listens.next()

    assert heard.data["message"]["body"] == "here"


async def test_a_room_joined_while_streaming_is_followed_from_then_on_and_when_resumed(
    api: Call, alice: User, bob: User, lounge: Room
) -> None:
    alices, bobs = await api(alice), await api(bob)
    async with listening(bobs) as bob_listens:
        before = await post(alices, lounge, "before bob came")
        assert (await bobs.post(f"/rooms/{lounge.id}/join")).status_code == 200
        joined = await bob_listens.next()
        await post(alices, lounge, "welcome, bob")
        heard = await bob_listens.next()
    missed = await post(alices, lounge, "while bob was away")
    assert heard.id is not None
    async with listening(bobs, last_event_id=heard.id) as resumed:
        pass

    assert joined.kind == "room.joined"
    assert joined.data["room"]["name"] == "Lounge"
    assert joined.id is not None
    assert f"{lounge.id}:{before['seq']}:{before['id']}" in joined.id.split(",")  # stands there
    assert (heard.kind, heard.data["message"]["body"]) == ("message.created", "welcome, bob")
    assert [event.data["message"]["id"] for event in resumed.caught_up] == [missed["id"]]


async def test_a_resumed_stream_is_told_of_the_rooms_joined_and_left_while_it_was_away(
    api: Call, alice: User, bob: User, general: Room, lounge: Room
) -> None:
    alices, bobs = await api(alice), await api(bob)
    async with listening(bobs) as first:
        pass
    assert first.ready is not None
    assert first.ready.id is not None
    assert (await bobs.post(f"/rooms/{general.id}/leave")).status_code == 204
    assert (await bobs.post(f"/rooms/{lounge.id}/join")).status_code == 200

    async with listening(bobs, last_event_id=first.ready.id) as resumed:
        await post(alices, lounge, "welcome, bob")
        heard = await resumed.next()

    closed, joined = resumed.caught_up
    assert (closed.kind, closed.data["room_id"]) == ("room.closed", general.id)
    assert (joined.kind, joined.data["room"]["id"]) == ("room.joined", lounge.id)
    assert resumed.ready is not None
    assert resumed.ready.data == {"rooms": [lounge.id]}
    assert heard.data["message"]["body"] == "welcome, bob"


async def test_a_room_its_owner_joins_is_not_followed_by_a_token_kept_to_other_rooms(
    server: LiveServer, api: Call, alice: User, bob: User, general: Room, lounge: Room
) -> None:
    alices, kept = await api(alice), await api(bob, Scope.READ, room_ids=[general.id])
    async with listening(kept) as bob_listens:
        assert await submit_as(server, bob.email, f"/rooms/{lounge.slug}/join", {}) == 303
        await post(alices, lounge, "not for this token")
        await post(alices, general, "for this one")
        heard = await bob_listens.next()

    assert heard.data["message"]["body"] == "for this one"


async def test_leaving_a_room_closes_it_on_the_stream(
    api: Call, alice: User, bob: User, general: Room
) -> None:
    alices, bobs = await api(alice), await api(bob)
    async with listening(bobs) as bob_listens:
        assert (await bobs.post(f"/rooms/{general.id}/leave")).status_code == 204
        closed = await bob_listens.until("room.closed")
        await post(alices, general, "not for bob any more")
        await post(alices, general, "nor this")

        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await bob_listens.next()

    assert closed.data == {"room_id": general.id, "reason": "You left this room."}


async def test_a_revoked_token_ends_its_stream_at_the_next_heartbeat(
    db: Database, server: LiveServer, alice: User, general: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.05)
    token, secret = await tokens.issue_token(db, alice, name="ci", scope=Scope.READ)
    headers = {"Authorization": f"Bearer {secret}"}
    async with (
        httpx.AsyncClient(base_url=f"{server.url}/api/v1", headers=headers) as client,
        listening(client) as listener,
    ):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await listener.next()
        assert listener.comments > 0  # the heartbeats

        await tokens.revoke_token(db, alice.id, token.id)

        with pytest.raises(AssertionError, match="the stream ended"):
            await listener.next()


@pytest.mark.parametrize("last_event_id", ["yesterday", "1:2", "1:2:3,x", f"1:{2**63}:1"])
async def test_an_id_the_stream_never_sent_is_refused(
    api: Call, alice: User, last_event_id: str
) -> None:
    response = await (await api(alice)).get("/events", headers={"Last-Event-ID": last_event_id})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_streams_count_among_a_persons_open_sockets_until_they_close(
    db: Database, settings: Settings, alice: User
) -> None:
    _, secret = await tokens.issue_token(db, alice, name="ci", scope=Scope.READ)
    headers = {"Authorization": f"Bearer {secret}"}
    async with (
        serving(settings.model_copy(update={"sockets_per_user": 2})) as live,
        httpx.AsyncClient(base_url=f"{live.url}/api/v1", headers=headers) as client,
    ):
        async with listening(client), listening(client):
            refused = await client.get("/events")
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "rate_limited"

        sockets: OpenSockets = live.app.state.sockets

        async def closed() -> bool:  # the server notices each client leave in its own time
            return sockets.count(alice.id) == 0

        await eventually(closed)
        async with listening(client) as again:
            assert again.caught_up == []
