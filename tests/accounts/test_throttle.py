"""The log-in throttle, on a clock the tests move by hand."""

from __future__ import annotations

from livechat.accounts.throttle import LoginThrottle, throttle_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_throttle(clock: FakeClock, max_keys: int = 100) -> LoginThrottle:
    return LoginThrottle(max_failures=3, window_seconds=60, clock=clock, max_keys=max_keys)


async def test_a_key_may_try_until_it_reaches_the_failure_limit() -> None:
    clock = FakeClock()
    throttle = make_throttle(clock)
    key = throttle_key("Alice@Example.com ", "10.0.0.1")

    for _ in range(2):
        await throttle.record_failure(key)
        assert await throttle.retry_after(key) is None
    await throttle.record_failure(key)

    assert await throttle.retry_after(key) == 60


async def test_the_lockout_ends_when_the_oldest_failure_leaves_the_window() -> None:
    clock = FakeClock()
    throttle = make_throttle(clock)
    key = throttle_key("alice@example.com", "10.0.0.1")
    for _ in range(3):
        await throttle.record_failure(key)
        clock.now += 10

    assert await throttle.retry_after(key) == 30
    clock.now += 30
    assert await throttle.retry_after(key) is None


def test_emails_are_compared_without_case_or_surrounding_space() -> None:
    assert throttle_key(" ALICE@example.com", "ip") == throttle_key("alice@example.com", "ip")


async def test_a_success_clears_the_failures() -> None:
    clock = FakeClock()
    throttle = make_throttle(clock)
    key = throttle_key("alice@example.com", "10.0.0.1")
    for _ in range(3):
        await throttle.record_failure(key)

    await throttle.reset(key)

    assert await throttle.retry_after(key) is None


async def test_memory_stays_bounded_by_forgetting_the_oldest_keys() -> None:
    clock = FakeClock()
    throttle = make_throttle(clock, max_keys=10)
    first = throttle_key("victim@example.com", "10.0.0.1")
    for _ in range(3):
        await throttle.record_failure(first)

    for number in range(10):
        await throttle.record_failure(throttle_key(f"spam{number}@example.com", "10.0.0.2"))

    assert await throttle.retry_after(first) is None
    assert len(throttle) == 10
