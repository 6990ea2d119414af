"""The application's supervision tree, started and stopped by the ASGI lifespan.

    livechat (one-for-one)
    ├── hub             the pub/sub dispatcher
    ├── presence        who is where, who is typing
    ├── presence-peers  with Redis only: presence shared with the other processes
    ├── rate-limiter    a token bucket per user (in Redis, with Redis)
    ├── rooms           dynamic: one transient RoomServer per active room
    └── janitor         deletes uploads that no message took

Children start in that order and stop in the reverse order. Without ``redis_url`` all of it
lives in this process; with it, broadcasts, presence and the rate limiter are shared by
every process that uses the same Redis and prefix. If the tree itself gives up
(a permanent child kept crashing), ``on_fatal`` is called: the process must then stop, with
a non-zero exit, so that its process manager starts a healthy one instead of leaving a
server that answers pages but delivers nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from livechat.chat import attachments
from livechat.chat import rooms as rooms_service
from livechat.db import Database
from livechat.metrics import Metrics
from livechat.realtime import broadcasts
from livechat.realtime.backends.memory import MemoryBackend
from livechat.realtime.backends.redis import RedisBackend
from livechat.realtime.hub import LOBBY_TOPIC, Hub, presence_topic, room_topic
from livechat.realtime.janitor import Janitor
from livechat.realtime.presence import Presence, PresenceChange
from livechat.realtime.presence_peers import PresencePeers
from livechat.realtime.rate_limiter import Limiter, RateLimiter
from livechat.realtime.rooms import RoomServer, RoomSupervisor
from livechat.realtime.shared_rate_limiter import RedisRateLimiter
from livechat.realtime.supervisor import Child, Supervisor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Realtime:
    """What the routes reach for: the running processes of the tree."""

    hub: Hub
    presence: Presence
    rate_limiter: Limiter
    rooms: RoomSupervisor
    tree: Supervisor
    task: asyncio.Task[None]

    def down(self) -> list[str]:
        """The processes that are not running: empty when all is well. A hub waiting for
        Redis counts: nothing live reaches this process's pages meanwhile."""
        if self.task.done():
            return ["livechat"]
        down = self.tree.down()
        return down if self.hub.connected or "hub" in down else [*down, "hub"]


@asynccontextmanager
async def running_tree(
    db: Database,
    *,
    uploads_dir: Path,
    room_idle_seconds: float,
    subscriber_queue_size: int,
    upload_pending_seconds: float,
    on_fatal: Callable[[BaseException], None],
    metrics: Metrics,
    redis_url: str | None = None,
    redis_prefix: str = "livechat",
) -> AsyncIterator[Realtime]:
    async def catch_up_pages() -> None:
        # Events published while this process was cut off (or its hub restarting) never
        # reach it: pages open here compare with where their room stands in the store.
        for room_id, seq in (await rooms_service.last_seqs(db, rooms.with_pages())).items():
            hub.deliver(room_topic(room_id), broadcasts.room_reached(room_id, seq))

    backend = RedisBackend(redis_url, prefix=redis_prefix) if redis_url else MemoryBackend()
    hub = Hub(
        backend,
        queue_size=subscriber_queue_size,
        on_drop=metrics.broadcasts_dropped.inc,
        on_connected=catch_up_pages,
    )

    async def publish_presence(change: PresenceChange) -> None:
        # Every process works out presence for its own pages, from what all of them share.
        hub.deliver(presence_topic(change.room_id), broadcasts.presence_changed(change))
        if change.count is not None and change.public:
            hub.deliver(LOBBY_TOPIC, broadcasts.online_counted(change.room_id, change.count))

    peers = PresencePeers(redis_url, prefix=redis_prefix) if redis_url else None
    presence = Presence(publish_presence, tell_peers=peers.tell if peers else None)
    rate_limiter: Limiter = (
        RedisRateLimiter(redis_url, prefix=redis_prefix) if redis_url else RateLimiter()
    )
    # One series for all room servers, however many rooms come and go.
    room_restarts = metrics.supervisor_restarts.labels("rooms", "room")
    room_supervisor = Supervisor("rooms", on_restart=lambda _room: room_restarts.inc())

    def start_room(room_id: int) -> RoomServer:
        return RoomServer(
            room_id,
            db=db,
            hub=hub,
            rate_limiter=rate_limiter,
            uploads_dir=uploads_dir,
            idle_seconds=room_idle_seconds,
            connections=lambda: rooms.connections(room_id),
            on_idle=rooms.forget,
            on_posted=metrics.messages_posted.inc,
        )

    async def room_given_up(room_id: int) -> None:
        await hub.publish(room_topic(room_id), broadcasts.room_restarting(room_id))

    rooms = RoomSupervisor(room_supervisor, start_room, on_give_up=room_given_up)

    async def sweep() -> int:
        return await attachments.sweep_abandoned(db, uploads_dir, upload_pending_seconds)

    janitor = Janitor(sweep)
    children = [
        Child("hub", hub.run),
        Child("presence", presence.run),
        *([Child("presence-peers", functools.partial(peers.run, presence))] if peers else []),
        Child("rate-limiter", rate_limiter.run),
        Child("rooms", room_supervisor.run),
        Child("janitor", janitor.run),
    ]
    restarts = {
        child.name: metrics.supervisor_restarts.labels("livechat", child.name) for child in children
    }
    tree = Supervisor("livechat", children, on_restart=lambda child: restarts[child.name].inc())

    def report_failure(task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.critical("the supervision tree gave up; stopping", exc_info=error)
            on_fatal(error)

    task = asyncio.create_task(tree.run(), name="livechat")
    task.add_done_callback(report_failure)
    await tree.wait_started()
    await room_supervisor.wait_started()
    try:
        yield Realtime(hub, presence, rate_limiter, rooms, tree, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@asynccontextmanager
async def supervised(name: str, run: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    """``run`` in a supervisor of its own, restarted when it crashes, for as long as the
    context lasts: for work beside the tree's whose failure stops nothing else. If it
    keeps crashing, it stays down, and says so in the log."""
    supervisor = Supervisor(name, [Child(name, run)])

    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s gave up after crashing again and again", name, exc_info=task.exception())

    task = asyncio.create_task(supervisor.run(), name=name)
    task.add_done_callback(report)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
