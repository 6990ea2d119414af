"""Slows down password guessing: too many failed log-ins for one email from one address
lock that pair out for a while.

Keyed by email *and* address, so an attacker hammering one account from one place cannot
lock its owner out from everywhere else. State lives in the event loop's thread and is only
touched between awaits, so it needs no lock; it is bounded, oldest keys evicted first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

# Enough for every address that could plausibly be failing at once on one server, and
# small enough (a few MB at most) that a flood of made-up emails cannot grow memory.
MAX_TRACKED_KEYS = 10_000


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
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many email and address pairs are being tracked."""
        return len(self._failures)

    @staticmethod
    def key(email: str, address: str) -> tuple[str, str]:
        return email.strip().lower(), address

    def retry_after(self, key: tuple[str, str]) -> float | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        failures = self._recent(key)
        if len(failures) < self._max_failures:
            return None
        return failures[0] + self._window - self._clock()

    def record_failure(self, key: tuple[str, str]) -> None:
        failures = self._recent(key)
        failures.append(self._clock())
        self._failures[key] = failures
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def reset(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key, deque(maxlen=self._max_failures))
        cutoff = self._clock() - self._window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
