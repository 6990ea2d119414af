"""The shape every actor shares: state owned by one task, reached only through its inbox.

``call`` sends a request and awaits the reply; ``cast`` sends and returns at once. The loop
handles one message at a time, so an actor's state needs no locks. A handler may raise one
of the actor's ``expected_errors`` (a refusal, such as a rate limit): that error is the
reply and the actor carries on. Any other exception is a crash: the caller gets it, and
the supervisor runs ``run`` again, which starts over from ``init`` while the inbox keeps
what was queued.

An actor with a ``tick_interval`` also receives a ``Tick`` that often, as an ordinary
message, so timed work (refilling buckets, expiring typing) never races with requests.
Tests leave the interval out and send ``Tick()`` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Request = TypeVar("Request")
Sleep = Callable[[float], Awaitable[None]]

# Deep enough to absorb a burst from every connection at once, and small enough that a
# stuck actor makes its callers fail fast instead of queueing without bound.
DEFAULT_INBOX_SIZE = 10_000
DEFAULT_CALL_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Tick:
    """Sent to an actor every ``tick_interval`` seconds."""


class ActorBusy(RuntimeError):
    """The inbox is full: the actor is not keeping up, so the request is refused."""


class ActorStopped(RuntimeError):
    """The actor stopped before it got to the request; ask its successor instead."""


@dataclass(frozen=True, slots=True)
class _Stop:
    """Wakes an idle actor so that it notices ``stop``."""


class Actor(ABC, Generic[Request]):
    name = "actor"
    expected_errors: tuple[type[Exception], ...] = ()

    def __init__(
        self,
        *,
        tick_interval: float | None = None,
        sleep: Sleep = asyncio.sleep,
        inbox_size: int = DEFAULT_INBOX_SIZE,
    ) -> None:
        self._tick_interval = tick_interval
        self._sleep = sleep
        self._inbox: asyncio.Queue[tuple[Request | Tick | _Stop, asyncio.Future[Any] | None]] = (
            asyncio.Queue(inbox_size)
        )
        self._stopped = False

    async def call(self, request: Request) -> Any:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._put(request, reply)
        async with asyncio.timeout(DEFAULT_CALL_TIMEOUT_S):
            return await reply

    def cast(self, request: Request | Tick) -> None:
        self._put(request, None)

    def _put(self, request: Request | Tick, reply: asyncio.Future[Any] | None) -> None:
        if self._stopped:
            raise ActorStopped(f"{self.name} has stopped")
        try:
            self._inbox.put_nowait((request, reply))
        except asyncio.QueueFull:
            raise ActorBusy(f"{self.name} is overloaded") from None

    def stop(self) -> None:
        """End the loop after the current message: a normal exit, not a crash."""
        self._stopped = True
        with contextlib.suppress(asyncio.QueueFull):  # a full inbox wakes the loop anyway
            self._inbox.put_nowait((_Stop(), None))

    def abandon(self) -> None:
        """Stop for good without running again: what is queued and whatever comes later is
        refused with ``ActorStopped``, sending callers to a successor."""
        self._stopped = True
        self._refuse_pending()

    async def run(self) -> None:
        """The actor's life: ``init``, then one message at a time until it stops."""
        self._stopped = False
        await self.init()
        ticker = asyncio.create_task(self._tick_forever()) if self._tick_interval else None
        try:
            await self._serve()
        except asyncio.CancelledError:
            # Shut down: no one will read the inbox again, so what is queued is refused and
            # later requests fail at once, sending their callers to a successor.
            self._stopped = True
            self._refuse_pending()
            raise
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
        self._refuse_pending()

    def _refuse_pending(self) -> None:
        """Answer every call still queued, since nothing will read the inbox again."""
        while not self._inbox.empty():
            _request, reply = self._inbox.get_nowait()
            if reply is not None and not reply.done():
                reply.set_exception(ActorStopped(f"{self.name} has stopped"))

    async def _serve(self) -> None:
        while not self._stopped:
            request, reply = await self._inbox.get()
            if isinstance(request, _Stop):
                continue
            try:
                result = await (self.tick() if isinstance(request, Tick) else self.handle(request))
            except self.expected_errors as refusal:
                if reply is not None and not reply.done():
                    reply.set_exception(refusal)
                continue
            except Exception as error:
                if reply is not None and not reply.done():
                    reply.set_exception(error)
                raise
            if reply is not None and not reply.done():
                reply.set_result(result)

    async def _tick_forever(self) -> None:
        assert self._tick_interval is not None
        while True:
            await self._sleep(self._tick_interval)
            with contextlib.suppress(ActorBusy):  # a busy actor skips a tick, nothing more
                self.cast(Tick())

    async def init(self) -> None:
        """Set up the state; runs again after every restart."""

    async def tick(self) -> None:
        """Timed work, every ``tick_interval`` seconds."""

    @abstractmethod
    async def handle(self, request: Request) -> Any:
        """Handle one request; what it returns is the reply to a ``call``."""
