"""The actor shape: calls and casts through one inbox, crashes that reach the caller and end
``run()``, restarts from ``init``, back-pressure, stopping, and ticks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from livechat.realtime.actor import Actor, ActorBusy, ActorStopped, Sleep, Tick
from tests.realtime.conftest import Background


@dataclass(frozen=True)
class Add:
    amount: int


@dataclass(frozen=True)
class Fail:
    reason: str


@dataclass(frozen=True)
class Hold:
    """Keep the actor busy with this message until ``release`` is set."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


Request = Add | Fail | Hold


class Counter(Actor[Request]):
    """Adds numbers up; its state is the running total and what it has added so far."""

    name = "counter"

    def __init__(
        self,
        *,
        inbox_size: int = 100,
        tick_interval: float | None = None,
        sleep: Sleep = asyncio.sleep,
        max_wait_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            inbox_size=inbox_size,
            tick_interval=tick_interval,
            sleep=sleep,
            max_wait_s=max_wait_s,
            clock=clock,
        )
        self.total = 0
        self.added: list[int] = []
        self.inits = 0
        self.ticks = 0
        self.ticked = asyncio.Event()

    async def init(self) -> None:
        self.inits += 1
        self.total = 0

    async def tick(self) -> None:
        self.ticks += 1
        self.ticked.set()

    async def handle(self, request: Request) -> int | str:
        match request:
            case Add(amount):
                self.total += amount
                self.added.append(amount)
                return self.total
            case Fail(reason):
                raise ValueError(reason)
            case Hold(entered, release):
                entered.set()
                await release.wait()
                return "released"


async def until(event: asyncio.Event) -> None:
    async with asyncio.timeout(2):
        await event.wait()


async def test_a_call_returns_what_the_handler_returns(background: Background) -> None:
    counter = Counter()
    background.start(counter.run())

    assert await counter.call(Add(5)) == 5
    assert await counter.call(Add(2)) == 7


async def test_a_cast_returns_at_once_and_messages_are_handled_in_the_order_sent(
    background: Background,
) -> None:
    counter = Counter()
    background.start(counter.run())

    for amount in (1, 2, 3):
        counter.cast(Add(amount))
    assert counter.added == []  # nothing was handled while the casts were being sent

    assert await counter.call(Add(4)) == 10  # a call sent last is answered last
    assert counter.added == [1, 2, 3, 4]


async def test_an_error_in_a_handler_reaches_its_caller_and_ends_run_so_it_can_be_restarted(
    background: Background,
) -> None:
    counter = Counter()
    task = background.start(counter.run())

    with pytest.raises(ValueError, match="boom"):
        await counter.call(Fail("boom"))

    with pytest.raises(ValueError, match="boom"):
        async with asyncio.timeout(2):
            await task


class Refuse(Exception):
    """A refusal the actor expects, unlike a crash."""


class PickyCounter(Counter):
    expected_errors = (Refuse,)

    async def handle(self, request: Request) -> int | str:
        if isinstance(request, Fail):
            raise Refuse(request.reason)
        return await super().handle(request)


async def test_an_expected_error_is_the_reply_and_the_actor_carries_on(
    background: Background,
) -> None:
    counter = PickyCounter()
    task = background.start(counter.run())
    await counter.call(Add(1))

    with pytest.raises(Refuse, match="not now"):
        await counter.call(Fail("not now"))

    assert await counter.call(Add(2)) == 3  # same state: no crash, no restart
    assert counter.inits == 1
    assert not task.done()


async def test_a_restarted_actor_starts_again_from_init_and_handles_what_was_queued(
    background: Background,
) -> None:
    counter = Counter()
    first_life = background.start(counter.run())
    assert await counter.call(Add(5)) == 5

    counter.cast(Fail("boom"))
    counter.cast(Add(1))
    queued = background.start(counter.call(Add(2)))
    with pytest.raises(ValueError, match="boom"):
        async with asyncio.timeout(2):
            await first_life

    background.start(counter.run())  # what a supervisor does after a crash
    async with asyncio.timeout(2):
        assert await queued == 3  # 1 + 2 on a fresh total: the 5 from before is gone

    assert counter.inits == 2
    assert counter.added == [5, 1, 2]


async def test_a_full_inbox_refuses_messages_with_actor_busy_until_the_actor_catches_up(
    background: Background,
) -> None:
    counter = Counter(inbox_size=1)
    background.start(counter.run())
    hold = Hold()
    held = background.start(counter.call(hold))
    await until(hold.entered)

    counter.cast(Add(1))  # fills the inbox while the actor is busy
    with pytest.raises(ActorBusy, match="counter is overloaded"):
        counter.cast(Add(100))
    with pytest.raises(ActorBusy):
        await counter.call(Add(100))

    hold.release.set()
    async with asyncio.timeout(2):
        assert await held == "released"
    assert await counter.call(Add(10)) == 11  # the refused messages were never handled
    assert counter.added == [1, 10]


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_call_that_waited_past_the_limit_is_refused_with_a_time_to_retry_and_not_handled(
    background: Background,
) -> None:
    clock = Clock()
    counter = Counter(max_wait_s=0.1, clock=clock)
    background.start(counter.run())
    hold = Hold()
    held = background.start(counter.call(hold))
    await until(hold.entered)

    late = background.start(counter.call(Add(1)))
    await asyncio.sleep(0)  # the call reaches the inbox at 0 s
    clock.now = 2.5  # the hold kept it waiting far past the limit
    hold.release.set()

    with pytest.raises(ActorBusy) as refused:
        await late
    assert refused.value.retry_after_s == 3
    assert await held == "released"
    assert counter.added == []
    assert await counter.call(Add(2)) == 2  # a call that did not wait is served


async def test_a_call_that_would_wait_past_the_limit_is_refused_at_once_while_casts_still_queue(
    background: Background,
) -> None:
    clock = Clock()
    counter = Counter(max_wait_s=0.1, clock=clock)
    background.start(counter.run())
    slow = Hold()
    finished = background.start(counter.call(slow))
    await until(slow.entered)
    clock.now = 1.0  # calls take long now: the running average of their time grows
    slow.release.set()
    await finished

    hold = Hold()
    held = background.start(counter.call(hold))
    await until(hold.entered)
    queued = background.start(counter.call(Add(1)))  # nothing ahead of it yet: accepted
    await asyncio.sleep(0)  # the call reaches the inbox
    with pytest.raises(ActorBusy) as refused:
        await counter.call(Add(100))  # behind one call of about 0.2 s: past the limit
    assert refused.value.retry_after_s == 1
    counter.cast(Add(5))  # a cast has no caller waiting on it, so it is never refused
    last = Hold()
    last.release.set()
    counter.cast(last)

    hold.release.set()
    assert await held == "released"
    assert await queued == 1
    await until(last.entered)
    assert counter.added == [1, 5]


async def test_after_stop_the_current_message_completes_and_pending_and_new_calls_are_refused(
    background: Background,
) -> None:
    counter = Counter()
    task = background.start(counter.run())
    hold = Hold()
    held = background.start(counter.call(hold))
    await until(hold.entered)
    pending = background.start(counter.call(Add(1)))
    await asyncio.sleep(0)  # let the pending call reach the inbox

    counter.stop()

    with pytest.raises(ActorStopped, match="counter has stopped"):
        await counter.call(Add(2))
    with pytest.raises(ActorStopped):
        counter.cast(Add(3))
    hold.release.set()
    async with asyncio.timeout(2):
        assert await held == "released"
        with pytest.raises(ActorStopped):
            await pending
        await task  # run() returns: a normal exit, not a crash
    assert counter.added == []


async def test_stopping_an_idle_actor_ends_its_run(background: Background) -> None:
    counter = Counter()
    task = background.start(counter.run())
    assert await counter.call(Add(1)) == 1  # running, and now waiting for its next message

    counter.stop()

    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done, "run() still waits for a message, which stop() now refuses to queue"
    task.result()  # and it ended normally, without an error


class ManualSleep:
    """A sleep that lasts until the test lets it end."""

    def __init__(self) -> None:
        self._sleepers: asyncio.Queue[tuple[float, asyncio.Future[None]]] = asyncio.Queue()

    async def __call__(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.put_nowait((seconds, woken))
        await woken

    async def elapse(self) -> float:
        """End the next sleep; returns how long it was meant to last."""
        async with asyncio.timeout(2):
            seconds, woken = await self._sleepers.get()
        woken.set_result(None)
        return seconds


async def test_an_actor_with_a_tick_interval_gets_a_tick_after_each_interval(
    background: Background,
) -> None:
    sleep = ManualSleep()
    counter = Counter(tick_interval=0.5, sleep=sleep)
    background.start(counter.run())

    assert await sleep.elapse() == 0.5
    await until(counter.ticked)
    counter.ticked.clear()
    assert await sleep.elapse() == 0.5
    await until(counter.ticked)

    assert counter.ticks == 2
    assert counter.added == []  # a Tick goes to tick(), never to handle()


async def test_a_tick_cast_by_hand_runs_the_timed_work_in_turn_with_requests(
    background: Background,
) -> None:
    counter = Counter()
    background.start(counter.run())

    counter.cast(Tick())
    assert await counter.call(Add(1)) == 1

    assert counter.ticks == 1


async def test_a_cancelled_actor_refuses_requests_at_once_instead_of_letting_them_wait(
    background: Background,
) -> None:
    counter = Counter()
    task = background.start(counter.run())
    assert await counter.call(Add(1)) == 1

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    with pytest.raises(ActorStopped):
        await counter.call(Add(1))
