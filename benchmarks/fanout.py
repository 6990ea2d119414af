"""How many deliveries a second can one room take, and what does each cost the server?

Starts livechat (``livechat serve`` on a fresh database, one public room of N members,
each signed in) and the naive Starlette loop of ``benchmarks/reference.py``, one after
the other, each on a core of its own, with this process on the other core. N sockets
join the room; then, phase after phase at rising rates, messages are sent from the
sockets in turn (each person well within the rate limit) for a few seconds each. Every
socket must receive every message the server accepted. For each phase it reports the
sends refused as busy, loss (deliveries still missing a few seconds after the phase),
duplicates, p50 and p99 from send to delivery, deliveries a second and the server's CPU
per delivery, and marks a phase healthy with no refusal, no loss and a p99 under 100
ms. livechat stores, authorises and renders every message; the reference only relays
it. Last come the ratios of the two, and how many errors each server logged.

    .venv/bin/python benchmarks/fanout.py [--sockets 500] [--rates 10,20,40,80,160]

Idle memory per socket is measured the same way: ``--idle 10000`` opens that many
sockets of distinct people on each server, as fast as it answers them, and reports the
growth of its resident memory per socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    Page,
    Server,
    cpu_seconds,
    free_port,
    livechat_command,
    livechat_environment,
    migrated_database,
    populate,
    prepare,
    report_errors,
    resident_bytes,
    start_server,
)

PHASE_S = 10.0
DRAIN_S = 5.0  # after the last send, how long a delivery may still arrive
HEALTHY_P99_S = 0.1
JOINING_AT_ONCE = 50
SETTLED_S = 2.0  # a server whose sockets sent nothing for this long has settled...
IDLE_CHECK_S = 1.0
IDLE_CPU_SHARE = 0.05  # ...once it also spends under this share of a core
_TOKEN = re.compile(rb"bench-(\d+)-(\d+)")
_ACK = b'id="message-form" class="composer"'
_REFUSED = b'class="flash flash-error"'
_HEADERS = {"HX-Request": "true", "HX-Trigger": "message-form", "HX-Current-URL": "/"}
_CATCH_UP = '{"seq": "0", "last_id": "0", "HEADERS": {"HX-Trigger": "catch-up"}}'


@dataclass
class Phase:
    rate: int
    sent_at: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # one per delivery
    duplicates: int = 0
    acks: list[float] = field(default_factory=list)
    refused: int = 0


@dataclass
class Result:
    rate: int
    sent: int
    refused: int
    loss: int
    duplicates: int
    p50: float
    p99: float
    deliveries_per_s: float
    cpu_per_delivery_us: float
    ack_p50: float | None
    ack_p99: float | None

    @property
    def healthy(self) -> bool:
        return (
            self.refused == 0
            and self.loss == 0
            and self.duplicates == 0
            and self.p99 < HEALTHY_P99_S
        )


class Room:
    """The pages of one room, and what each phase saw of them."""

    def __init__(self) -> None:
        self.pages: list[Page] = []
        # The pages that send, in turn; all of them when empty.
        self.senders: list[Page] = []
        self.phases: list[Phase] = []
        self._seen: dict[Page, set[tuple[int, int]]] = {}
        self._pending_ack: dict[Page, float] = {}

    def on_frame(self, page: Page, payload: bytes) -> None:
        now = time.monotonic()
        for match in _TOKEN.finditer(payload):
            number, message = int(match[1]), int(match[2])
            phase = self.phases[number]
            seen = self._seen.setdefault(page, set())
            if (number, message) in seen:
                phase.duplicates += 1
                continue
            seen.add((number, message))
            phase.latencies.append(now - phase.sent_at[message])
        if page in self._pending_ack:
            if _ACK in payload:
                self.phases[-1].acks.append(now - self._pending_ack.pop(page))
            elif _REFUSED in payload:
                self.phases[-1].refused += 1
                del self._pending_ack[page]

    async def run_phase(self, server: Server, rate: int) -> Result:
        return await self.measure([server], rate, PHASE_S)

    async def measure(self, servers: Sequence[Server], rate: int, seconds: float) -> Result:
        """One phase of ``seconds`` at ``rate``, sent from the pages in turn, whichever
        of ``servers`` each is on; the CPU per delivery is theirs together."""
        senders = self.senders or self.pages
        count = int(rate * seconds)
        phase = Phase(rate)
        self.phases.append(phase)
        number = len(self.phases) - 1
        cpu, started = _cpu_seconds(servers), time.monotonic()
        for message in range(count):
            delay = started + message / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            page = senders[(number * 7919 + message) % len(senders)]
            body = f"bench-{number}-{message}"
            phase.sent_at[message] = time.monotonic()
            self._pending_ack[page] = phase.sent_at[message]
            frame = {"body": body, "client_msg_id": uuid.uuid4().hex, "HEADERS": _HEADERS}
            page.send(json.dumps(frame))
        # Every message not refused must reach every page; wait until they have, or the
        # drain time is up.
        drained_by = time.monotonic() + DRAIN_S
        while True:
            expected = (count - phase.refused) * len(self.pages)
            if len(phase.latencies) >= expected or time.monotonic() > drained_by:
                break
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu = _cpu_seconds(servers) - cpu
        delivered = len(phase.latencies)
        latencies = sorted(phase.latencies) or [float("inf")]
        return Result(
            rate=rate,
            sent=count,
            refused=phase.refused,
            loss=expected - delivered,
            duplicates=phase.duplicates,
            p50=statistics.median(latencies),
            p99=_p99(latencies),
            deliveries_per_s=delivered / min(elapsed, seconds + DRAIN_S),
            cpu_per_delivery_us=cpu / max(delivered, 1) * 1e6,
            ack_p50=statistics.median(phase.acks) if phase.acks else None,
            ack_p99=_p99(sorted(phase.acks)) if phase.acks else None,
        )


def _p99(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def open_pages(
    server: Server, path: str, tokens: list[str | None], on_frame: Callable[[Page, bytes], None]
) -> list[Page]:
    pages = await join_pages(server, path, tokens, on_frame)
    await settle([server], pages)
    return pages


async def join_pages(
    server: Server, path: str, tokens: list[str | None], on_frame: Callable[[Page, bytes], None]
) -> list[Page]:
    """A page on ``server`` for each of ``tokens``, each answered once, without waiting
    for the room to calm down."""
    gate = asyncio.Semaphore(JOINING_AT_ONCE)

    async def one(token: str | None) -> Page:
        # A page holds its place in the gate until the server has answered it: what is
        # measured is the room filling up as fast as the server lets pages in, not a
        # pile of handshakes the server has yet to look at.
        async with gate:
            page = await Page.open(server.origin, path, token, on_frame)
            page.send(_CATCH_UP)
            await page.answered
            return page

    return list(await asyncio.gather(*(one(token) for token in tokens)))


async def settle(servers: Sequence[Server], pages: list[Page]) -> None:
    """Wait until the pages have been sent nothing for a while and the servers are idle:
    the room has calmed down after the sockets joined, or after the last phase."""
    while True:
        quiet_for = time.monotonic() - max((page.last_frame for page in pages), default=0)
        if quiet_for < SETTLED_S:
            await asyncio.sleep(SETTLED_S - quiet_for)
            continue
        cpu = _cpu_seconds(servers)
        await asyncio.sleep(IDLE_CHECK_S)
        if _cpu_seconds(servers) - cpu < IDLE_CHECK_S * IDLE_CPU_SHARE:
            return


def _cpu_seconds(servers: Sequence[Server]) -> float:
    return sum(cpu_seconds(server.pid) for server in servers)


def _print(name: str, result: Result) -> None:
    ack = f"{result.ack_p50 * 1000:6.1f} ms" if result.ack_p50 is not None else "       -"
    print(
        f"{name:>9} {result.rate:>4} msg/s  refused {result.refused:>4}"
        f"  loss {result.loss:>6,}  dup {result.duplicates:>3}"
        f"  p50 {result.p50 * 1000:7.1f} ms  p99 {result.p99 * 1000:7.1f} ms"
        f"  {result.deliveries_per_s:>8,.0f} deliveries/s"
        f"  {result.cpu_per_delivery_us:6.1f} µs CPU each  ack p50 {ack}"
        f"  {'healthy' if result.healthy else ''}"
    )


async def _sweep(
    name: str, server: Server, path: str, tokens: list[str | None], rates: list[int]
) -> list[Result]:
    room = Room()
    room.pages = await open_pages(server, path, tokens, room.on_frame)
    results = []
    for rate in rates:
        result = await room.run_phase(server, rate)
        _print(name, result)
        results.append(result)
        await settle([server], room.pages)
        if not result.healthy and result.loss > result.rate * PHASE_S * len(tokens) / 2:
            break  # past the ceiling: the next rate would only lose more
    for page in room.pages:
        page.abort()
    return results


async def _idle(name: str, server: Server, path: str, tokens: list[str | None]) -> None:
    before = resident_bytes(server.pid)
    pages = await open_pages(server, path, tokens, lambda _page, _frame: None)
    grown = resident_bytes(server.pid) - before
    closed = Counter(page.closed.result() for page in pages if page.closed.done())
    why = ", ".join(f"{count} closed with {code}" for code, count in sorted(closed.items()))
    print(
        f"{name:>9} {len(tokens):,} idle sockets: {grown / len(tokens) / 1024:.1f} KB each"
        f" ({len(pages) - closed.total():,} still open{'; ' + why if why else ''})"
    )
    for page in pages:
        page.abort()


async def main(sockets: int, rates: list[int], idle: int) -> None:
    print(prepare())
    people = max(sockets, idle)
    with tempfile.TemporaryDirectory() as folder:
        database_url = migrated_database(folder)
        slug, tokens = await populate(database_url, people)
        path = f"/rooms/{slug}/ws"
        port = free_port()
        reference_script = str(Path(__file__).with_name("reference.py"))
        contenders = {
            "livechat": (livechat_command(port), livechat_environment(folder, database_url)),
            "reference": ([sys.executable, reference_script, "--port", str(port)], {}),
        }
        results: dict[str, list[Result]] = {}
        for name, (command, environment) in contenders.items():
            log = Path(folder) / f"{name}.log"
            server = await start_server(command, environment, port, log)
            try:
                chosen: list[str | None] = list(tokens[:sockets])
                results[name] = await _sweep(name, server, path, chosen, rates)
                if idle:
                    await _idle(name, server, path, list(tokens[:idle]))
            finally:
                await server.stop()
            report_errors(name, server)
    _compare(results["livechat"], results["reference"])


def _compare(livechat: list[Result], reference: list[Result]) -> None:
    """The ratios, rate by rate: CPU per delivery, and which server was healthy."""
    for ours, theirs in zip(livechat, reference, strict=False):
        ratio = ours.cpu_per_delivery_us / theirs.cpu_per_delivery_us
        print(
            f"{ours.rate:>5} msg/s: CPU per delivery livechat/reference {ratio:.2f}"
            f"   healthy: livechat {'yes' if ours.healthy else 'no'},"
            f" reference {'yes' if theirs.healthy else 'no'}"
        )
    best = max((r.deliveries_per_s for r in livechat if r.healthy), default=0.0)
    print(f"livechat healthy up to {best:,.0f} deliveries/s, every message stored and rendered")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--rates", default="10,20,40,80,160")
    parser.add_argument("--idle", type=int, default=0)
    arguments = parser.parse_args()
    rates = [int(rate) for rate in arguments.rates.split(",")]
    asyncio.run(main(arguments.sockets, rates, arguments.idle))
