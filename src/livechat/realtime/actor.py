"""The shape every actor shares: state owned by one task, reached only through its inbox.

``call`` sends a request and awaits the reply; ``cast`` sends and returns at once. The loop
handles one message at a time, so an actor's state needs no locks. A handler may raise one
of the actor's ``expected_errors`` (a refusal, such as a rate limit): that error is the
reply and the actor carries on. Any other exception is a crash: the caller gets it, and
the supervisor runs ``run`` again, which starts over from ``init`` while the inbox keeps
what was queued.

An actor with a ``max_wait_s`` sheds load: a call that would wait longer than that behind
its inbox (going by how long calls take lately), or that did, is refused with ``ActorBusy``
and a time to try again, instead of making every later caller wait longer still.

An actor with a ``tick_interval`` also receives a ``Tick`` that often, as an ordinary
message, so timed work (refilling buckets, expiring typing) never races with requests.
Tests leave the interval out and send ``Tick()`` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

Request = TypeVar("Request")
Sleep = Callable[[float], Awaitable[None]]

# Deep enough to absorb a burst from every connection at once, and small enough that a
# stuck actor makes its callers fail fast instead of queueing without bound.
DEFAULT_INBOX_SIZE = 10_000
DEFAULT_CALL_TIMEOUT_S = 5.0
# For an actor that answers in microseconds (Presence, the rate limiter): a call to it
# that waited longer than this, behind its inbox or a loop too busy to run it, finds the
# whole process behind. Refused at once, it sheds its caller's work there rather than
# queue it towards the call timeout.
QUICK_MAX_WAIT_S = 0.25


@dataclass(frozen=True, slots=True)
class Tick:
    """Sent to an actor every ``tick_interval`` seconds."""


class ActorBusy(RuntimeError):
    """The actor is not keeping up, so the request is refused: its inbox is full, or the
    request would wait (or has waited) longer than the actor's ``max_wait_s``. Asking
    again after ``retry_after_s`` seconds has a fair chance."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ActorStopped(RuntimeError):
    """The actor stopped before it got to the request; ask its successor instead."""


@dataclass(frozen=True, slots=True)
class _Stop:
    """Wakes an idle actor so that it notices ``stop``."""


class _Letter(NamedTuple, Generic[Request]):
    """What waits in an inbox: the request, where to answer a call, and when it came."""

    request: Request | Tick | _Stop
    reply: asyncio.Future[Any] | None
    posted: float


# The weight of the latest call in the running average of how long calls take: recent
# enough to notice a busy spell within a few calls, smooth enough to ignore one slow call.
_SMOOTHING = 0.2


def _retry_after(wait_s: float) -> int:
    """Whole seconds to suggest waiting, at least one: the backlog must drain first."""
    return max(1, math.ceil(wait_s))


class Actor(ABC, Generic[Request]):
    name = "actor"
    expected_errors: tuple[type[Exception], ...] = ()

    def __init__(
        self,
        *,
        tick_interval: float | None = None,
        sleep: Sleep = asyncio.sleep,
        inbox_size: int = DEFAULT_INBOX_SIZE,
        max_wait_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tick_interval = tick_interval
        self._sleep = sleep
        self._inbox: asyncio.Queue[_Letter[Request]] = asyncio.Queue(inbox_size)
        self._stopped = False
        self._max_wait_s = max_wait_s
        self._clock = clock
        # How long a call takes to handle, on average lately: with the inbox's length, how
        # long a new call would wait.
        self._service_s = 0.0

    async def call(self, request: Request) -> Any:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._put(request, reply)
        async with asyncio.timeout(DEFAULT_CALL_TIMEOUT_S):
            return await reply

    def cast(self, request: Request | Tick) -> None:
        self._put(request, None)

    def refuse_if_busy(self) -> None:
        """Raise ``ActorBusy`` if a call now would wait longer than ``max_wait_s``: for a
        caller with work to do before its call, which it need not do to be refused."""
        if self._max_wait_s is not None:
            wait_s = self._inbox.qsize() * self._service_s
            if wait_s > self._max_wait_s:
                raise ActorBusy(f"{self.name} is overloaded", _retry_after(wait_s))

    def _put(self, request: Request | Tick, reply: asyncio.Future[Any] | None) -> None:
        if self._stopped:
            raise ActorStopped(f"{self.name} has stopped")
        if reply is not None:
            self.refuse_if_busy()
        try:
            self._inbox.put_nowait(_Letter(request, reply, self._clock()))
        except asyncio.QueueFull:
            raise ActorBusy(f"{self.name} is overloaded") from None

    def stop(self) -> None:
        """End the loop after the current message: a normal exit, not a crash."""
        self._stopped = True
        with contextlib.suppress(asyncio.QueueFull):  # a full inbox wakes the loop anyway
            self._inbox.put_nowait(_Letter(_Stop(), None, self._clock()))

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
            reply = self._inbox.get_nowait().reply
            if reply is not None and not reply.done():
                reply.set_exception(ActorStopped(f"{self.name} has stopped"))

    async def _serve(self) -> None:
        while not self._stopped:
            request, reply, posted = await self._inbox.get()
            if isinstance(request, _Stop):
                continue
            started = self._clock()
            if reply is not None and self._max_wait_s is not None:
                waited_s = started - posted
                if waited_s > self._max_wait_s:
                    # Its caller has waited long enough: an answer now, rather than a
                    # result later that would only make everyone behind it wait longer.
                    if not reply.done():
                        reply.set_exception(
                            ActorBusy(f"{self.name} is overloaded", _retry_after(waited_s))
                        )
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
            if reply is not None:
                self._service_s += (self._clock() - started - self._service_s) * _SMOOTHING
                if not reply.done():
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
