"""The RateLimiter: a bucket of ten tokens per person, one token back per tick, and only
the buckets of people who posted recently kept in memory."""

from __future__ import annotations

import asyncio

import pytest

from livechat.errors import RateLimited, Unavailable
from livechat.realtime.actor import QUICK_MAX_WAIT_S, Tick
from livechat.realtime.rate_limiter import Allowed, Limited, RateLimiter
from tests.realtime.conftest import Background, FakeClock

ALICE, BOB, CAROL = 1, 2, 3


@pytest.fixture
async def limiter(background: Background, clock: FakeClock) -> RateLimiter:
    limiter = RateLimiter(refill_seconds=None, clock=clock)  # the test sends every Tick
    background.start(limiter.run())
    return limiter


async def use_up(limiter: RateLimiter, user_id: int, checks: int = 10) -> None:
    for _ in range(checks):
        assert isinstance(await limiter.check(user_id), Allowed)


def tick(limiter: RateLimiter, times: int = 1) -> None:
    """Refill; the next call is answered after these ticks, being queued behind them."""
    for _ in range(times):
        limiter.cast(Tick())


async def test_a_full_bucket_allows_ten_messages_then_limits_until_the_next_refill(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    decisions = [await limiter.check(ALICE) for _ in range(10)]
    clock.advance(0.4)

    assert decisions == [Allowed(remaining=n) for n in range(9, -1, -1)]
    assert await limiter.check(ALICE) == Limited(retry_after_ms=600)


async def test_a_tick_gives_back_one_token_and_the_wait_counts_from_that_tick(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    await use_up(limiter, ALICE)
    clock.advance(2.3)
    tick(limiter)

    assert await limiter.check(ALICE) == Allowed(remaining=0)
    clock.advance(0.25)
    assert await limiter.check(ALICE) == Limited(retry_after_ms=750)


async def test_a_limited_person_past_the_refill_time_is_told_to_retry_at_once_not_never(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    await use_up(limiter, ALICE)
    clock.advance(1.5)  # the refill is late: no tick has come yet

    assert await limiter.check(ALICE) == Limited(retry_after_ms=1)


async def test_each_person_has_a_bucket_of_their_own(limiter: RateLimiter) -> None:
    await use_up(limiter, ALICE)

    assert await limiter.check(BOB) == Allowed(remaining=9)
    assert isinstance(await limiter.check(ALICE), Limited)


async def test_buckets_that_are_full_again_are_dropped_so_memory_stays_bounded(
    limiter: RateLimiter,
) -> None:
    await use_up(limiter, ALICE)
    await use_up(limiter, BOB, checks=1)
    assert limiter.tracked_users == 2

    tick(limiter)
    # Carol's first check is answered after the tick, and starts a bucket of her own.
    assert await limiter.check(CAROL) == Allowed(remaining=9)
    assert limiter.tracked_users == 2  # Alice and Carol; Bob's bucket was full again

    tick(limiter, 9)
    # Alice's bucket filled up with the tenth tick and was dropped: she starts a fresh one.
    assert await limiter.check(ALICE) == Allowed(remaining=9)
    assert limiter.tracked_users == 1  # Alice alone; Carol's bucket was full again too


# Spending a token, as room servers and sockets do


async def test_spending_past_the_bucket_is_refused_as_too_fast_with_the_wait(
    limiter: RateLimiter,
) -> None:
    await use_up(limiter, ALICE)

    with pytest.raises(RateLimited, match="You're sending messages too fast") as refused:
        await limiter.spend(ALICE, "sending messages")

    assert refused.value.retry_after_seconds == 1
    await limiter.spend(BOB, "sending messages")  # someone else's bucket is untouched


async def test_a_check_that_waited_too_long_is_refused_as_busy_rather_than_answered_late(
    background: Background, clock: FakeClock
) -> None:
    limiter = RateLimiter(refill_seconds=None, clock=clock)
    waiting = background.start(limiter.spend(ALICE, "sending messages"))
    await asyncio.sleep(0)  # queued, with no limiter running to take it
    clock.advance(QUICK_MAX_WAIT_S * 4)
    background.start(limiter.run())

    with pytest.raises(Unavailable, match="very busy right now; try again in 1 s"):
        async with asyncio.timeout(2):
            await waiting
    assert isinstance(await limiter.check(ALICE), Allowed), "the refused check spent nothing"


async def test_a_limiter_that_has_stopped_refuses_the_spend_as_busy(limiter: RateLimiter) -> None:
    limiter.abandon()

    with pytest.raises(Unavailable, match="busy"):
        await limiter.spend(ALICE, "sending messages")
