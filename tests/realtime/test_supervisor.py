"""Supervisors: children start, crashed children restart one for one, a crash loop
escalates, children can be added at run time, and shutdown goes in reverse start order."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from enum import Enum

import pytest

from livechat.realtime.supervisor import Child, Restart, Supervisor, TooManyRestarts
from tests.realtime.conftest import Background, FakeClock


class Step(Enum):
    CRASH = "crash"
    RETURN = "return"


class Crash(RuntimeError):
    pass


class Worker:
    """A child that follows a script, one step per start (crash, or return), then runs until
    it is cancelled. It counts its starts and its exits, and records its name in ``stopped``
    when it is cancelled."""

    def __init__(
        self,
        name: str,
        *script: Step,
        on_start: Callable[[], None] | None = None,
        stopped: list[str] | None = None,
    ) -> None:
        self.name = name
        self._script = list(script)
        self._on_start = on_start
        self._stopped = stopped if stopped is not None else []
        self.starts = 0
        self.exits = 0
        self.running = asyncio.Event()
        self.exited = asyncio.Event()
        self.cancelled = False

    def child(
        self,
        restart: Restart = Restart.PERMANENT,
        on_give_up: Callable[[TooManyRestarts], Awaitable[None]] | None = None,
    ) -> Child:
        return Child(self.name, self.start, restart, self._on_exit, on_give_up)

    async def start(self) -> None:
        self.starts += 1
        if self._on_start is not None:
            self._on_start()
        if self._script:
            if self._script.pop(0) is Step.CRASH:
                raise Crash(f"{self.name} crashed")
            return
        self.running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            self._stopped.append(self.name)
            raise

    def _on_exit(self) -> None:
        self.exits += 1
        self.exited.set()


async def until(event: asyncio.Event) -> None:
    async with asyncio.timeout(2):
        await event.wait()


async def test_every_child_starts_when_the_supervisor_runs(background: Background) -> None:
    first, second = Worker("first"), Worker("second")
    supervisor = Supervisor("test", [first.child(), second.child()])

    task = background.start(supervisor.run())
    await until(first.running)
    await until(second.running)

    assert (first.starts, second.starts) == (1, 1)
    assert not task.done()


async def test_a_crashing_child_is_restarted_and_its_siblings_keep_running(
    background: Background,
) -> None:
    steady, flaky = Worker("steady"), Worker("flaky", Step.CRASH)
    supervisor = Supervisor("test", [steady.child(), flaky.child()])

    task = background.start(supervisor.run())
    await until(flaky.running)
    await until(steady.running)

    assert flaky.starts == 2
    assert steady.starts == 1  # one for one: the sibling was neither stopped nor restarted
    assert not steady.cancelled
    assert not task.done()


async def test_a_transient_child_that_returns_is_done_not_restarted_and_its_on_exit_runs(
    background: Background,
) -> None:
    job, steady = Worker("job", Step.RETURN), Worker("steady")
    supervisor = Supervisor("test", [job.child(Restart.TRANSIENT), steady.child()])

    task = background.start(supervisor.run())
    await until(job.exited)
    await until(steady.running)

    assert job.starts == 1
    assert job.exits == 1
    assert not steady.cancelled
    assert not task.done()


async def test_a_transient_child_that_crashes_is_restarted(background: Background) -> None:
    job = Worker("job", Step.CRASH)
    supervisor = Supervisor("test", [job.child(Restart.TRANSIENT)])

    task = background.start(supervisor.run())
    await until(job.running)

    assert job.starts == 2
    assert job.exits == 0
    assert not task.done()


async def test_as_many_crashes_as_max_restarts_within_the_window_are_tolerated(
    background: Background, clock: FakeClock
) -> None:
    flaky = Worker("flaky", Step.CRASH, Step.CRASH, Step.CRASH)
    supervisor = Supervisor(
        "test", [flaky.child()], max_restarts=3, within_seconds=5.0, clock=clock
    )

    task = background.start(supervisor.run())
    await until(flaky.running)

    assert flaky.starts == 4
    assert not task.done()


async def test_more_crashes_than_max_restarts_within_the_window_escalate_and_stop_the_siblings(
    background: Background, clock: FakeClock
) -> None:
    steady, flaky = Worker("steady"), Worker("flaky", *[Step.CRASH] * 10)
    supervisor = Supervisor(
        "test", [steady.child(), flaky.child()], max_restarts=3, within_seconds=5.0, clock=clock
    )

    task = background.start(supervisor.run())
    # The failure leaves run() inside the TaskGroup's ExceptionGroup.
    with pytest.RaisesGroup(pytest.RaisesExc(TooManyRestarts, match="flaky restarted 4 times")):
        async with asyncio.timeout(2):
            await task

    assert flaky.starts == 4  # three restarts were allowed; the fourth crash escalated
    assert flaky.exits == 1
    assert steady.cancelled
    assert steady.exits == 1


async def test_crashes_spread_out_beyond_the_window_do_not_escalate(
    background: Background, clock: FakeClock
) -> None:
    # Each crash comes six seconds after the previous one: never two within five seconds.
    flaky = Worker("flaky", *[Step.CRASH] * 10, on_start=lambda: clock.advance(6.0))
    supervisor = Supervisor(
        "test", [flaky.child()], max_restarts=3, within_seconds=5.0, clock=clock
    )

    task = background.start(supervisor.run())
    await until(flaky.running)

    assert flaky.starts == 11
    assert not task.done()


async def test_a_permanent_child_that_keeps_returning_counts_towards_the_restart_intensity(
    background: Background, clock: FakeClock
) -> None:
    quitter = Worker("quitter", *[Step.RETURN] * 10)
    supervisor = Supervisor(
        "test", [quitter.child()], max_restarts=3, within_seconds=5.0, clock=clock
    )

    task = background.start(supervisor.run())
    with pytest.RaisesGroup(pytest.RaisesExc(TooManyRestarts, match="quitter")):
        async with asyncio.timeout(2):
            await task

    assert quitter.starts == 4


async def test_a_child_added_at_run_time_is_started_and_supervised(
    background: Background,
) -> None:
    steady = Worker("steady")
    supervisor = Supervisor("test", [steady.child()])
    task = background.start(supervisor.run())
    async with asyncio.timeout(2):
        await supervisor.wait_started()

    late = Worker("late", Step.CRASH)
    supervisor.start_child(late.child())
    await until(late.running)

    assert late.starts == 2  # it crashed once and was restarted like any other child
    assert steady.starts == 1
    assert not task.done()


async def test_start_child_is_refused_when_the_supervisor_is_not_running(
    background: Background,
) -> None:
    supervisor = Supervisor("test")

    with pytest.raises(RuntimeError, match="not running"):
        supervisor.start_child(Worker("early").child())

    task = background.start(supervisor.run())
    async with asyncio.timeout(2):
        await supervisor.wait_started()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    too_late = Worker("too-late")
    with pytest.raises(RuntimeError, match="not running"):
        supervisor.start_child(too_late.child())
    assert too_late.starts == 0


async def test_cancelling_the_supervisor_stops_its_children_in_reverse_start_order(
    background: Background,
) -> None:
    stopped: list[str] = []
    first, second, third = (Worker(name, stopped=stopped) for name in ("first", "second", "third"))
    added = Worker("added", stopped=stopped)
    supervisor = Supervisor("test", [first.child(), second.child(), third.child()])
    task = background.start(supervisor.run())
    async with asyncio.timeout(2):
        await supervisor.wait_started()
    supervisor.start_child(added.child())
    for worker in (first, second, third, added):
        await until(worker.running)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(2):
            await task

    assert stopped == ["added", "third", "second", "first"]
    assert [w.exits for w in (first, second, third, added)] == [1, 1, 1, 1]


async def test_a_child_with_on_give_up_stops_alone_past_its_restart_intensity(
    background: Background,
) -> None:
    steady, doomed = Worker("steady"), Worker("doomed", *[Step.CRASH] * 10)
    failures: list[TooManyRestarts] = []

    async def give_up(failure: TooManyRestarts) -> None:
        failures.append(failure)

    supervisor = Supervisor(
        "test", [steady.child(), doomed.child(Restart.TRANSIENT, on_give_up=give_up)]
    )

    task = background.start(supervisor.run())
    await until(doomed.exited)
    await until(steady.running)

    assert doomed.starts == 4  # three restarts, then no more
    assert [str(failure) for failure in failures] == ["doomed restarted 4 times in 5 s"]
    assert not steady.cancelled
    assert not task.done()


async def test_a_permanent_child_is_reported_down_until_it_runs_again(
    background: Background, clock: FakeClock
) -> None:
    steady, flaky = Worker("steady"), Worker("flaky", *[Step.CRASH] * 10)
    supervisor = Supervisor(
        "test", [steady.child(), flaky.child()], max_restarts=3, within_seconds=5.0, clock=clock
    )
    assert supervisor.down() == []

    task = background.start(supervisor.run())
    with pytest.RaisesGroup(pytest.RaisesExc(TooManyRestarts)):
        async with asyncio.timeout(2):
            await task

    assert supervisor.down() == ["flaky"]


async def test_every_restart_is_reported_but_not_the_crash_it_gives_up_on(
    background: Background, clock: FakeClock
) -> None:
    steady, flaky = Worker("steady"), Worker("flaky", *[Step.CRASH] * 10)
    restarted: list[str] = []

    async def give_up(_failure: TooManyRestarts) -> None:
        pass

    supervisor = Supervisor(
        "test",
        [steady.child(), flaky.child(Restart.TRANSIENT, on_give_up=give_up)],
        clock=clock,
        on_restart=lambda child: restarted.append(child.name),
    )

    background.start(supervisor.run())
    await until(flaky.exited)

    assert restarted == ["flaky"] * 3


async def test_a_child_runs_in_the_supervisors_context_not_in_the_one_that_added_it(
    background: Background,
) -> None:
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")
    seen: list[str] = []
    looked = asyncio.Event()

    async def look() -> None:
        seen.append(caller.get())
        looked.set()
        await asyncio.Event().wait()

    supervisor = Supervisor("test")
    background.start(supervisor.run())
    async with asyncio.timeout(2):
        await supervisor.wait_started()

    caller.set("a socket")
    supervisor.start_child(Child("late", look))
    await until(looked)

    assert seen == ["nobody"]
