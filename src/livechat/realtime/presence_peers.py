"""Presence shared between processes through Redis, the counterpart of Phoenix Presence
across nodes.

Each process (a node) keeps in Redis a hash of its own presence: one field per person per
room it has connections for, and ``seq``, the number of its latest change. Whatever its
Presence tells it is written to the hash and published on one channel in the same
transaction, numbered, a batch at a time. Every other node applies the batches of a node
in order, as that node's connections in its own Presence. A node that receives a number
it did not expect (it missed some while it reconnected, or started after them) reads the
sender's hash instead: that is the sender's state as of the number the hash holds, and
later batches follow it in order.

Every ``heartbeat_s`` a node publishes its latest number and renews its hash's expiry. A
node not heard from for ``expiry_s`` (killed, or cut off) is taken out of every room here,
and its hash expires in Redis, so that a node starting later never sees its ghosts. A node
that stops cleanly deletes its hash and says so, and is taken out at once.

Typing travels on the channel but stays out of the hash: it is news for two seconds.
When this process has more to tell than its queue holds, or has lost its connection, it
writes its whole state anew instead of the changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.exceptions import RedisError

from livechat.realtime.presence import (
    Changed,
    Gone,
    Here,
    PeerEvent,
    Person,
    Presence,
    StoppedTyping,
    Typing,
)
from livechat.realtime.reconnect import until_connected

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
# Three missed heartbeats: a node busy for a moment is not taken for dead, and a dead
# one's people leave every sidebar within expiry and one heartbeat, 20 s.
EXPIRY_S = 15.0
# Changes waiting to go out; past that, writing the whole state anew is cheaper.
QUEUE_SIZE = 10_000
# How long a goodbye may hold up a shutdown; past it, the hash expires by itself.
GOODBYE_TIMEOUT_S = 1.0
_SEQ = "seq"


@dataclass
class _Peer:
    seq: int
    heard: float
    here: dict[str, Here] = field(default_factory=dict)  # by hash field


class PresencePeers:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "livechat",
        heartbeat_s: float = HEARTBEAT_S,
        expiry_s: float = EXPIRY_S,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = uuid.uuid4().hex
        self._url = url
        self._channel = f"{prefix}:presence"
        self._key_prefix = f"{prefix}:presence:"
        self._heartbeat_s = heartbeat_s
        self._expiry_s = expiry_s
        self._clock = clock
        # None asks for the whole state: at every start, and after an overflow.
        self._queue: asyncio.Queue[PeerEvent | None] = asyncio.Queue(queue_size)
        self._seq = 0
        self._mine: dict[str, Here] = {}  # what our hash holds, by field
        self._peers: dict[str, _Peer] = {}

    def tell(self, event: PeerEvent) -> None:
        """Send ``event`` to the other processes; never waits."""
        self._enqueue(event)

    def _enqueue(self, event: PeerEvent | None) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def run(self, presence: Presence) -> None:
        while True:
            redis, pubsub = await until_connected(self._connect, "presence")
            lost_redis = False
            try:
                self._enqueue(None)
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._publish(redis, presence))
                    group.create_task(self._listen(redis, pubsub, presence))
                    group.create_task(self._beat(redis, presence))
            except* (RedisError, OSError) as lost:
                # An outage, not a bug: what we know of the others stands until they
                # are heard from again, or expire.
                log.warning("presence: lost Redis (%s); connecting again", lost.exceptions[0])
                lost_redis = True
            finally:
                if not lost_redis:
                    await self._say_goodbye(redis)
                await pubsub.aclose()
                await redis.aclose()

    async def _say_goodbye(self, redis: Redis) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                await redis.delete(self._key(self.node))
                await redis.publish(self._channel, json.dumps([self.node, None]))

    async def _connect(self) -> tuple[Redis, PubSub]:
        redis = Redis.from_url(self._url, client_name=f"livechat-presence-{self.node}")
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            # Subscribed before reading anyone's hash: no batch falls between the two.
            while await pubsub.get_message(timeout=None) is None:
                pass
        except BaseException:
            await pubsub.aclose()
            await redis.aclose()
            raise
        return redis, pubsub

    # Out: this process's changes.

    async def _publish(self, redis: Redis, presence: Presence) -> None:
        while True:
            events = [await self._queue.get()]
            while not self._queue.empty():
                events.append(self._queue.get_nowait())
            await self._send(redis, presence, events)

    async def _send(self, redis: Redis, presence: Presence, events: list[PeerEvent | None]) -> None:
        self._seq += 1
        key = self._key(self.node)
        transaction = redis.pipeline(transaction=True)
        if None in events:
            self._mine = {_field(here.room_id, here.person.id): here for here in presence.here()}
            transaction.delete(key)
            if self._mine:
                transaction.hset(key, mapping={f: _encode_here(h) for f, h in self._mine.items()})
            wire: list[Any] = [["all"], *(_encode(here) for here in self._mine.values())]
        else:
            wire = [_encode(event) for event in events if event is not None]
            for event in events:
                self._write(transaction, key, event)
        transaction.hset(key, _SEQ, self._seq)
        transaction.pexpire(key, round(self._expiry_s * 1000))
        transaction.publish(self._channel, json.dumps([self.node, self._seq, wire]))
        await transaction.execute()

    def _write(self, transaction: Pipeline, key: str, event: PeerEvent | None) -> None:
        """Keep our hash in step with ``event``."""
        match event:
            case Here(room_id, person):
                name = _field(room_id, person.id)
                self._mine[name] = event
                transaction.hset(key, name, _encode_here(event))
            case Gone(room_id, user_id):
                name = _field(room_id, user_id)
                if self._mine.pop(name, None) is not None:
                    transaction.hdel(key, name)
            case Changed(person):
                for name, here in list(self._mine.items()):
                    if here.person.id == person.id:
                        self._mine[name] = renamed = Here(here.room_id, person, here.public)
                        transaction.hset(key, name, _encode_here(renamed))

    async def _beat(self, redis: Redis, presence: Presence) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if not await redis.pexpire(self._key(self.node), round(self._expiry_s * 1000)):
                # Our hash expired (this process stalled) or Redis restarted empty.
                self._enqueue(None)
            await redis.publish(self._channel, json.dumps([self.node, self._seq]))
            now = self._clock()
            for node, peer in list(self._peers.items()):
                if now - peer.heard > self._expiry_s:
                    log.warning("presence: no word from process %s; its people left", node)
                    self._drop(presence, node)

    # In: the other processes' changes.

    async def _listen(self, redis: Redis, pubsub: PubSub, presence: Presence) -> None:
        # The prefix is letters, digits and ``_.-`` (settings.py): no pattern characters.
        async for key in redis.scan_iter(match=f"{self._key_prefix}*"):
            node = key.decode().removeprefix(self._key_prefix)
            if node != self.node:
                await self._read_hash(redis, presence, node)
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is not None and message["type"] == "message":
                await self._receive(redis, presence, json.loads(message["data"]))

    async def _receive(self, redis: Redis, presence: Presence, message: list[Any]) -> None:
        node, seq, *batch = message
        if node == self.node:
            return
        if seq is None:  # a goodbye
            self._drop(presence, node)
            return
        peer = self._peers.get(node)
        if peer is not None:
            peer.heard = self._clock()
        if peer is None or seq > peer.seq + (1 if batch else 0):
            await self._read_hash(redis, presence, node)
        elif batch and seq == peer.seq + 1:
            peer.seq = seq
            events = [_decode(wire) for wire in batch[0]]
            if events[:1] == [None]:  # the whole state, in place of what we had
                self._reconcile(presence, node, peer, [e for e in events if isinstance(e, Here)])
                return
            for event in events:
                if event is not None:
                    self._apply(presence, node, peer, event)

    def _apply(self, presence: Presence, node: str, peer: _Peer, event: PeerEvent) -> None:
        match event:
            case Here(room_id, person):
                peer.here[_field(room_id, person.id)] = event
            case Gone(room_id, user_id):
                peer.here.pop(_field(room_id, user_id), None)
            case Changed(person):
                for name, here in list(peer.here.items()):
                    if here.person.id == person.id:
                        peer.here[name] = Here(here.room_id, person, here.public)
        presence.from_peer(node, event)

    async def _read_hash(self, redis: Redis, presence: Presence, node: str) -> None:
        """Take ``node``'s state from its hash, in place of what we had of it."""
        stored: dict[Any, Any] = await redis.hgetall(self._key(node))
        seq = stored.pop(_SEQ.encode(), None)
        if seq is None:
            self._drop(presence, node)  # gone already
            return
        peer = self._peers.setdefault(node, _Peer(0, self._clock()))
        peer.seq, peer.heard = int(seq), self._clock()
        self._reconcile(presence, node, peer, [_decode_here(value) for value in stored.values()])

    def _reconcile(self, presence: Presence, node: str, peer: _Peer, state: list[Here]) -> None:
        """Tell Presence what changed between what we had of ``node`` and its ``state``."""
        now = {_field(here.room_id, here.person.id): here for here in state}
        for name, here in list(peer.here.items()):
            if name not in now:
                self._apply(presence, node, peer, Gone(here.room_id, here.person.id))
        for name, here in now.items():
            if peer.here.get(name) != here:
                self._apply(presence, node, peer, here)

    def _drop(self, presence: Presence, node: str) -> None:
        if self._peers.pop(node, None) is not None:
            presence.peer_left(node)

    def _key(self, node: str) -> str:
        return f"{self._key_prefix}{node}"


def _field(room_id: int, user_id: int) -> str:
    return f"{room_id}:{user_id}"


def _encode_here(here: Here) -> str:
    return json.dumps(_encode(here))


def _decode_here(value: bytes) -> Here:
    here = _decode(json.loads(value))
    if not isinstance(here, Here):
        raise ValueError(f"not a person in a room: {value!r}")
    return here


def _encode(event: PeerEvent) -> list[Any]:
    match event:
        case Here(room_id, person, public):
            return ["here", room_id, person.id, person.display_name, person.avatar_url, public]
        case Gone(room_id, user_id):
            return ["gone", room_id, user_id]
        case Typing(room_id, user_id):
            return ["typing", room_id, user_id]
        case StoppedTyping(room_id, user_id):
            return ["stopped", room_id, user_id]
        case Changed(person):
            return ["changed", person.id, person.display_name, person.avatar_url]


def _decode(wire: list[Any]) -> PeerEvent | None:
    match wire:
        case ["all"]:
            return None
        case ["here", room_id, user_id, name, avatar_url, public]:
            return Here(room_id, Person(user_id, name, avatar_url), public)
        case ["gone", room_id, user_id]:
            return Gone(room_id, user_id)
        case ["typing", room_id, user_id]:
            return Typing(room_id, user_id)
        case ["stopped", room_id, user_id]:
            return StoppedTyping(room_id, user_id)
        case ["changed", user_id, name, avatar_url]:
            return Changed(Person(user_id, name, avatar_url))
    raise ValueError(f"not a presence event: {wire!r}")
