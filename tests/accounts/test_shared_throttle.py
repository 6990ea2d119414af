"""The log-in throttle shared through Redis: failures counted through any process lock
the pair out on every process, and expire with the window."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from livechat.accounts.throttle import SharedLoginThrottle, throttle_key
from livechat.errors import Unavailable
from tests.helpers import eventually
from tests.live import free_port

KEY = throttle_key("alice@example.com", "10.0.0.1")
Make = Callable[..., SharedLoginThrottle]


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def make(redis_url: str, prefix: str) -> AsyncIterator[Make]:
    """Throttles of processes sharing one Redis, under a prefix of the test's own; what
    they leave in Redis goes with them."""
    made: list[SharedLoginThrottle] = []

    def make(url: str = redis_url, window_seconds: float = 60) -> SharedLoginThrottle:
        throttle = SharedLoginThrottle(
            url, prefix=prefix, max_failures=3, window_seconds=window_seconds
        )
        made.append(throttle)
        return throttle

    yield make
    for throttle in made:
        await throttle.close()
    raw = Redis.from_url(redis_url)
    if left := [key async for key in raw.scan_iter(match=f"{prefix}:*")]:
        await raw.delete(*left)
    await raw.aclose()


async def test_failures_through_any_process_lock_the_pair_out_on_every_process(
    make: Make,
) -> None:
    here, there = make(), make()

    await here.record_failure(KEY)
    await there.record_failure(KEY)
    assert await here.retry_after(KEY) is None
    await here.record_failure(KEY)

    for throttle in (here, there):
        wait = await throttle.retry_after(KEY)
        assert wait is not None
        assert 59 < wait <= 60
    assert await there.retry_after(throttle_key(" ALICE@example.com", "10.0.0.2")) is None


async def test_a_success_through_one_process_clears_the_failures_for_all(make: Make) -> None:
    here, there = make(), make()
    for _ in range(3):
        await here.record_failure(KEY)

    await there.reset(KEY)

    assert await here.retry_after(KEY) is None


async def test_the_failures_leave_redis_with_the_window(
    make: Make, redis_url: str, prefix: str
) -> None:
    throttle = make(window_seconds=0.2)
    for _ in range(3):
        await throttle.record_failure(KEY)
    assert await throttle.retry_after(KEY) is not None
    raw = Redis.from_url(redis_url)

    async def forgotten() -> bool:
        return await throttle.retry_after(KEY) is None and not await raw.keys(f"{prefix}:*")

    try:
        await eventually(forgotten, timeout_s=2)
    finally:
        await raw.aclose()


async def test_a_redis_out_of_reach_refuses_log_ins_rather_than_let_them_through(
    make: Make,
) -> None:
    throttle = make(url=f"redis://127.0.0.1:{free_port()}/0")

    with pytest.raises(Unavailable, match="cannot be checked"):
        await throttle.retry_after(KEY)
    with pytest.raises(Unavailable):
        await throttle.record_failure(KEY)
