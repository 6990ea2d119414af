"""Slows down password guessing: too many failed log-ins for one email from one address
lock that pair out for a while. ``LoginThrottle`` keeps the failures in this process;
``SharedLoginThrottle`` keeps them in Redis, for every process of one chat.

Keyed by email *and* address, so an attacker hammering one account from one place cannot
lock its owner out from everywhere else. State lives in the event loop's thread and is only
touched between awaits, so it needs no lock; it is bounded, oldest keys evicted first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from livechat.errors import Unavailable

# Enough for every address that could plausibly be failing at once on one server, and
# small enough (a few MB at most) that a flood of made-up emails cannot grow memory.
MAX_TRACKED_KEYS = 10_000


Key = tuple[str, str]


class Throttle(Protocol):
    async def retry_after(self, key: Key) -> float | None: ...

    async def record_failure(self, key: Key) -> None: ...

    async def reset(self, key: Key) -> None: ...


def throttle_key(email: str, address: str) -> Key:
    """Whom failures are counted for: an email, without case or surrounding space, tried
    from an address."""
    return email.strip().lower(), address


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_KEYS,
    ) -> None:
        self._max_failures = max_failures
        self._window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[Key, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many email and address pairs are being tracked."""
        return len(self._failures)

    async def retry_after(self, key: Key) -> float | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        failures = self._recent(key)
        if len(failures) < self._max_failures:
            return None
        return failures[0] + self._window - self._clock()

    async def record_failure(self, key: Key) -> None:
        failures = self._recent(key)
        failures.append(self._clock())
        self._failures[key] = failures
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    async def reset(self, key: Key) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: Key) -> deque[float]:
        failures = self._failures.get(key, deque(maxlen=self._max_failures))
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures


# Redis answers in well under a millisecond; one that has not within this is down.
REDIS_TIMEOUT_S = 1.0


class SharedLoginThrottle:
    """The same rule for every process of one chat: the times of a key's latest failures,
    newest first, in a Redis list that expires with the window. With several workers
    behind one address, a per-process throttle would let as many guesses through as
    there are workers. While Redis cannot be reached, log-ins are refused as unavailable
    rather than let through unthrottled. Its keys need no bound of their own: each lives
    for the window at most, and a failure costs its sender a password hash first."""

    def __init__(self, url: str, *, prefix: str, max_failures: int, window_seconds: float) -> None:
        self._redis = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self._prefix = f"{prefix}:login-failures:"
        self._max_failures = max_failures
        self._window = window_seconds

    def _name(self, key: Key) -> str:
        email, address = key
        return f"{self._prefix}{address} {email}"

    async def retry_after(self, key: Key) -> float | None:
        try:
            pipeline = self._redis.pipeline(transaction=False)
            pipeline.time()
            pipeline.lrange(self._name(key), 0, self._max_failures - 1)
            (seconds, microseconds), stamps = await pipeline.execute()
        except (RedisError, OSError) as error:
            raise Unavailable(UNAVAILABLE, retry_after_seconds=1) from error
        now = float(seconds) + float(microseconds) / 1_000_000
        recent = [float(stamp) for stamp in stamps if float(stamp) > now - self._window]
        if len(recent) < self._max_failures:
            return None
        return min(recent) + self._window - now

    async def record_failure(self, key: Key) -> None:
        name = self._name(key)
        try:
            [seconds, microseconds] = await self._redis.time()
            pipeline = self._redis.pipeline(transaction=True)
            pipeline.lpush(name, f"{seconds}.{microseconds:06d}")
            pipeline.ltrim(name, 0, self._max_failures - 1)
            pipeline.pexpire(name, round(self._window * 1000))
            await pipeline.execute()
        except (RedisError, OSError) as error:
            raise Unavailable(UNAVAILABLE, retry_after_seconds=1) from error

    async def reset(self, key: Key) -> None:
        try:
            await self._redis.delete(self._name(key))
        except (RedisError, OSError) as error:
            raise Unavailable(UNAVAILABLE, retry_after_seconds=1) from error

    async def close(self) -> None:
        await self._redis.aclose()


UNAVAILABLE = "Log-ins cannot be checked right now; try again in a moment."
