"""The RateLimiter actor: a token bucket per user.

State: the tokens left per user. A user starts with a full bucket of ``capacity`` tokens;
each message spends one; every tick adds one back. Buckets that are full again are
dropped, so memory holds only the people who posted recently.

Every room server and socket asks the one limiter, from inside its own work: a limiter
that cannot answer in time refuses at once, and its callers pass that on as a refusal,
never as a crash of the room that asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from livechat.errors import RateLimited, Unavailable
from livechat.realtime.actor import QUICK_MAX_WAIT_S, Actor, ActorBusy, ActorStopped, Sleep

CAPACITY = 10  # a burst of ten messages is a fast typist, not a flood
REFILL_SECONDS = 1.0  # then one message a second, sustained


@dataclass(frozen=True, slots=True)
class Check:
    user_id: int


@dataclass(frozen=True, slots=True)
class Allowed:
    remaining: int


@dataclass(frozen=True, slots=True)
class Limited:
    retry_after_ms: int


Decision = Allowed | Limited


class Limiter(Protocol):
    """What room servers and sockets ask: this process's actor, or a bucket shared by every
    process through Redis (``shared_rate_limiter.py``)."""

    async def spend(self, user_id: int, doing: str) -> None: ...

    async def run(self) -> None: ...

    @property
    def tracked_users(self) -> int: ...


class RateLimiter(Actor[Check]):
    name = "rate-limiter"

    def __init__(
        self,
        *,
        capacity: int = CAPACITY,
        refill_seconds: float | None = REFILL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_wait_s: float | None = QUICK_MAX_WAIT_S,
    ) -> None:
        super().__init__(
            tick_interval=refill_seconds, sleep=sleep, max_wait_s=max_wait_s, clock=clock
        )
        self._capacity = capacity
        self._refill_seconds = refill_seconds or REFILL_SECONDS
        self._clock = clock
        self._tokens: dict[int, int] = {}
        self._last_refill = clock()

    async def check(self, user_id: int) -> Decision:
        decision: Decision = await self.call(Check(user_id))
        return decision

    async def spend(self, user_id: int, doing: str) -> None:
        """Take one of the person's tokens, or refuse what they are ``doing`` ("sending
        messages"): ``RateLimited`` with the wait, or ``Unavailable`` while the limiter is
        too busy to answer, or restarting after a crash."""
        try:
            decision = await self.check(user_id)
        except (ActorBusy, ActorStopped, TimeoutError) as error:
            seconds = error.retry_after_s if isinstance(error, ActorBusy) else 1
            raise Unavailable(
                f"The server is very busy right now; try again in {seconds} s.", seconds
            ) from error
        if isinstance(decision, Limited):
            seconds = max(1, -(-decision.retry_after_ms // 1000))
            raise RateLimited(
                f"You're {doing} too fast, try again in {seconds} s.", decision.retry_after_ms
            )

    async def init(self) -> None:
        self._tokens = {}
        self._last_refill = self._clock()

    async def handle(self, request: Check) -> Decision:
        tokens = self._tokens.get(request.user_id, self._capacity)
        if tokens == 0:
            wait = self._last_refill + self._refill_seconds - self._clock()
            return Limited(retry_after_ms=max(1, round(wait * 1000)))
        self._tokens[request.user_id] = tokens - 1
        return Allowed(remaining=tokens - 1)

    async def tick(self) -> None:
        self._last_refill = self._clock()
        for user_id, tokens in list(self._tokens.items()):
            if tokens + 1 >= self._capacity:
                del self._tokens[user_id]
            else:
                self._tokens[user_id] = tokens + 1

    @property
    def tracked_users(self) -> int:
        return len(self._tokens)
