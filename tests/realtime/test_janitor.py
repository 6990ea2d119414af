"""The Janitor sweeps abandoned uploads at once and then after every nap; a failing sweep
is logged and tried again after the next nap."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image
from sqlalchemy import update

from livechat.accounts.models import User
from livechat.chat import attachments, rooms
from livechat.chat.models import Attachment
from livechat.db import Database, utcnow
from livechat.metrics import Metrics
from livechat.realtime.janitor import SWEEP_EVERY_SECONDS, Janitor
from livechat.realtime.supervisor import Child, Supervisor
from livechat.realtime.tree import running_tree
from tests.realtime.conftest import Background

T = TypeVar("T")
WAIT_S = 2.0
EVERY_SECONDS = 120.0


class SweepFailed(RuntimeError):
    pass


class FakeSleep:
    """Stands in for ``asyncio.sleep``: records each nap asked for, and returns from it only
    when the test calls ``wake``."""

    def __init__(self) -> None:
        self.naps: asyncio.Queue[float] = asyncio.Queue()
        self._alarms: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, seconds: float) -> None:
        self.naps.put_nowait(seconds)
        await self._alarms.get()

    def wake(self) -> None:
        self._alarms.put_nowait(None)


class Sweep:
    """A sweep that follows a script, one step per call: a count of removed uploads to
    return, or an error to raise; 0 once the script is over. Each finished sweep's count
    goes into ``finished``."""

    def __init__(self, *script: int | Exception) -> None:
        self._script = list(script)
        self.calls = 0
        self.finished: asyncio.Queue[int] = asyncio.Queue()

    async def __call__(self) -> int:
        self.calls += 1
        step = self._script.pop(0) if self._script else 0
        if isinstance(step, Exception):
            raise step
        self.finished.put_nowait(step)
        return step


async def next_from(queue: asyncio.Queue[T]) -> T:
    async with asyncio.timeout(WAIT_S):
        return await queue.get()


async def test_the_janitor_sweeps_at_once_and_again_after_each_nap(
    background: Background,
) -> None:
    sweep, sleep = Sweep(2, 0, 1), FakeSleep()
    janitor = Janitor(sweep, every_seconds=EVERY_SECONDS, sleep=sleep)

    task = background.start(janitor.run())

    assert await next_from(sweep.finished) == 2
    assert await next_from(sleep.naps) == EVERY_SECONDS
    assert sweep.calls == 1  # napping: no second sweep until the nap is over

    sleep.wake()
    assert await next_from(sweep.finished) == 0
    assert await next_from(sleep.naps) == EVERY_SECONDS
    assert sweep.calls == 2

    sleep.wake()
    assert await next_from(sweep.finished) == 1
    assert await next_from(sleep.naps) == EVERY_SECONDS
    assert sweep.calls == 3
    assert not task.done()


async def test_the_janitor_naps_five_minutes_between_sweeps_unless_told_otherwise(
    background: Background,
) -> None:
    sweep, sleep = Sweep(), FakeSleep()

    background.start(Janitor(sweep, sleep=sleep).run())

    assert await next_from(sleep.naps) == SWEEP_EVERY_SECONDS == 300.0
    assert sweep.calls == 1


async def test_a_failing_sweep_is_logged_and_tried_again_after_the_nap(
    background: Background, caplog: pytest.LogCaptureFixture
) -> None:
    sweep, sleep = Sweep(SweepFailed("database is locked"), 4), FakeSleep()
    janitor = Janitor(sweep, every_seconds=EVERY_SECONDS, sleep=sleep)

    task = background.start(janitor.run())

    assert await next_from(sleep.naps) == EVERY_SECONDS  # the failure did not end the run
    assert "sweeping abandoned uploads failed" in caplog.text
    sleep.wake()
    assert await next_from(sweep.finished) == 4
    assert not task.done()


async def test_a_lasting_fault_never_exhausts_the_supervisors_restarts(
    background: Background,
) -> None:
    failures = [SweepFailed("disk gone") for _ in range(10)]
    sweep, sleep = Sweep(*failures, 1), FakeSleep()
    janitor = Janitor(sweep, every_seconds=EVERY_SECONDS, sleep=sleep)
    supervisor = Supervisor("test", [Child("janitor", janitor.run)])

    task = background.start(supervisor.run())
    for _ in failures:
        await next_from(sleep.naps)
        sleep.wake()

    assert await next_from(sweep.finished) == 1
    assert sweep.calls == len(failures) + 1
    assert not task.done()


async def test_the_janitor_logs_how_many_uploads_a_sweep_removed_and_is_quiet_otherwise(
    background: Background, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="livechat.realtime.janitor")
    sweep, sleep = Sweep(3, 0), FakeSleep()
    background.start(Janitor(sweep, every_seconds=EVERY_SECONDS, sleep=sleep).run())
    await next_from(sleep.naps)

    sleep.wake()
    await next_from(sleep.naps)

    janitor_lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "livechat.realtime.janitor"
    ]
    assert janitor_lines == ["deleted 3 abandoned uploads"]


# As the application runs it


async def test_the_running_application_sweeps_uploads_abandoned_for_longer_than_allowed(
    db: Database, alice: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads_dir = tmp_path / "uploads"
    room = await rooms.create_room(db, alice, name="General")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")

    async def share(name: str) -> Attachment:
        return await attachments.upload(
            db,
            alice,
            room.id,
            filename=name,
            data=buffer.getvalue(),
            uploads_dir=uploads_dir,
            max_bytes=1024 * 1024,
        )

    abandoned, fresh = await share("abandoned.png"), await share("fresh.png")
    async with db.write() as session:
        await session.execute(
            update(Attachment)
            .where(Attachment.id == abandoned.id)
            .values(inserted_at=utcnow() - timedelta(hours=2))
        )
    sweeps: asyncio.Queue[int] = asyncio.Queue()
    sweep_abandoned = attachments.sweep_abandoned

    async def observed(database: Database, folder: Path, older_than_seconds: float) -> int:
        removed = await sweep_abandoned(database, folder, older_than_seconds)
        sweeps.put_nowait(removed)
        return removed

    monkeypatch.setattr(attachments, "sweep_abandoned", observed)

    fatal: list[BaseException] = []
    async with running_tree(
        db,
        uploads_dir=uploads_dir,
        room_idle_seconds=60.0,
        subscriber_queue_size=100,
        upload_pending_seconds=3600.0,
        on_fatal=fatal.append,
        metrics=Metrics(),
    ):
        removed = await next_from(sweeps)  # the janitor sweeps as soon as the tree starts

    assert fatal == []
    assert removed == 1
    assert [a.id for a in await attachments.pending(db, alice, room.id)] == [fresh.id]
    assert not attachments.stored_path(uploads_dir, abandoned.stored_name).exists()
    assert attachments.stored_path(uploads_dir, fresh.stored_name).exists()
