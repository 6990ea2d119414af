"""The RateLimiter actor: a token bucket per user.

State: the tokens left per user. A user starts with a full bucket of ``capacity`` tokens;
each message spends one; every tick adds one back. Buckets that are full again are
dropped, so memory holds only the people who posted recently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from livechat.realtime.actor import Actor, Sleep

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


class RateLimiter(Actor[Check]):
    name = "rate-limiter"

    def __init__(
        self,
        *,
        capacity: int = CAPACITY,
        refill_seconds: float | None = REFILL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(tick_interval=refill_seconds, sleep=sleep)
        self._capacity = capacity
        self._refill_seconds = refill_seconds or REFILL_SECONDS
        self._clock = clock
        self._tokens: dict[int, int] = {}
        self._last_refill = clock()

    async def check(self, user_id: int) -> Decision:
        decision: Decision = await self.call(Check(user_id))
        return decision

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
