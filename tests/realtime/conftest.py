"""What the realtime tests share: a clock moved by hand, and background tasks that are
always cancelled and awaited before a test ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from types import TracebackType
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


class FakeClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Background:
    """Tasks a test runs beside itself (actors, supervisors, pending calls). On exit, those
    still running are cancelled, the last started first, and awaited; a task that already
    ended is left to the test, which asserts on how it ended."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coroutine)
        self._tasks.append(task)
        return task

    async def __aenter__(self) -> Background:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in reversed(self._tasks):
            if task.done():
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def background() -> AsyncIterator[Background]:
    async with Background() as tasks:
        yield tasks
