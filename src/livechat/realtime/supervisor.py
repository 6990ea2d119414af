"""Supervisors: run children, restart the ones that crash, give up when that is hopeless.

A bare ``asyncio.TaskGroup`` is one-for-all: one failing task cancels its siblings. Here
each child runs inside its own restart loop within the group, which makes the strategy
one-for-one. A child that crashes more than ``max_restarts`` times within ``within_seconds``
escalates: the supervisor fails, the group cancels the other children, and the failure
reaches whoever supervises the supervisor (ultimately the application's lifespan). Every
restart is also reported to ``on_restart``, for the metrics.

Children are *permanent* (restarted whenever they end) or *transient* (restarted only
after a crash; a normal return means their work is done, like an idle room closing).
Children may be added while the supervisor runs, which makes it a DynamicSupervisor.
Each child runs in a copy of the supervisor's own context, never in that of whoever added
it: a room server started for one socket must not log as that socket's.

A child with ``on_give_up`` does not escalate: past its restart intensity it is handed the
failure and left stopped, and its siblings never notice. That is how one room's crash loop
stays in that room, as a room under its own supervisor would in OTP.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger(__name__)

# OTP's default intensity: three crashes in five seconds is a crash loop, not bad luck.
MAX_RESTARTS = 3
WITHIN_SECONDS = 5.0


class Restart(Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"


class TooManyRestarts(RuntimeError):
    """A child crashed more often than the restart intensity allows."""


@dataclass(frozen=True)
class Child:
    name: str
    start: Callable[[], Awaitable[None]]
    restart: Restart = Restart.PERMANENT
    on_exit: Callable[[], None] | None = field(default=None, compare=False)
    # Awaited instead of escalating when the child exceeds its restart intensity.
    on_give_up: Callable[[TooManyRestarts], Awaitable[None]] | None = field(
        default=None, compare=False
    )


class Supervisor:
    def __init__(
        self,
        name: str,
        children: list[Child] | None = None,
        *,
        max_restarts: int = MAX_RESTARTS,
        within_seconds: float = WITHIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_restart: Callable[[Child], None] = lambda _child: None,
    ) -> None:
        self.name = name
        self._initial = list(children or [])
        self._max_restarts = max_restarts
        self._within = within_seconds
        self._clock = clock
        self._on_restart = on_restart
        self._group: asyncio.TaskGroup | None = None
        self._context = contextvars.Context()
        self._children: list[asyncio.Task[None]] = []
        self._started = asyncio.Event()
        self._down: set[str] = set()  # permanent children between a crash and their restart

    async def run(self) -> None:
        """Run every child until cancelled, or until one exceeds the restart intensity.
        Cancelled, it stops its children one by one, the last started first, so nothing
        outlives what it depends on."""
        self._context = contextvars.copy_context()
        async with asyncio.TaskGroup() as group:
            self._group = group
            for child in self._initial:
                self.start_child(child)
            self._started.set()
            try:
                await asyncio.Event().wait()  # children run until the supervisor is cancelled
            finally:
                self._group = None
                self._started.clear()
                for task in reversed(self._children):
                    task.cancel()
                    await asyncio.wait([task])
                self._children.clear()

    async def wait_started(self) -> None:
        await self._started.wait()

    def down(self) -> list[str]:
        """The permanent children not running at this moment, for the health check."""
        return sorted(self._down)

    def start_child(self, child: Child) -> asyncio.Task[None]:
        if self._group is None:
            raise RuntimeError(f"supervisor {self.name} is not running")
        task = self._group.create_task(
            self._supervise(child), name=f"{self.name}/{child.name}", context=self._context.copy()
        )
        self._children.append(task)
        task.add_done_callback(self._forget_task)
        return task

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        if task in self._children:
            self._children.remove(task)

    async def _supervise(self, child: Child) -> None:
        restarts: deque[float] = deque()
        permanent = child.restart is Restart.PERMANENT
        try:
            while True:
                error: Exception | None = None
                self._down.discard(child.name)
                try:
                    await child.start()
                except Exception as crash:
                    error = crash
                if error is None and not permanent:
                    return
                if permanent:
                    self._down.add(child.name)
                try:
                    self._count_restart(child, restarts, error)
                except TooManyRestarts as failure:
                    if child.on_give_up is None:
                        raise
                    log.error("%s: %s keeps crashing; giving up on it", self.name, child.name)
                    await child.on_give_up(failure)
                    return
        finally:
            if child.on_exit is not None:
                child.on_exit()

    def _count_restart(self, child: Child, restarts: deque[float], error: Exception | None) -> None:
        """Record one restart of ``child``, escalating when there were too many lately."""
        now = self._clock()
        restarts.append(now)
        while restarts and restarts[0] <= now - self._within:
            restarts.popleft()
        if len(restarts) > self._max_restarts:
            raise TooManyRestarts(
                f"{child.name} restarted {len(restarts)} times in {self._within:g} s"
            ) from error
        self._on_restart(child)
        if error is not None:
            log.error("%s: %s crashed; restarting it", self.name, child.name, exc_info=error)
        else:
            log.warning("%s: %s exited; restarting it", self.name, child.name)
