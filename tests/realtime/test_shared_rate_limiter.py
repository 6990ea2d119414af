"""The RedisRateLimiter: the RateLimiter's bucket of ten tokens per person, shared by every
process through Redis, and a refusal as busy, never a crash, when Redis does not answer.

Each limiter here stands for one server process. Every test keeps its buckets under a
prefix of its own, since tests run in parallel against one Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from livechat.errors import RateLimited, Unavailable
from livechat.realtime.rate_limiter import REFILL_SECONDS, Allowed, Limited
from livechat.realtime.shared_rate_limiter import TIMEOUT_S, RedisRateLimiter
from tests.helpers import eventually
from tests.realtime.conftest import Background

ALICE, BOB, CAROL = 1, 2, 3
UNUSED_PORT_URL = "redis://127.0.0.1:1/0"
SHORT_REFILL_S = 0.05


class Processes:
    """Starts limiters as server processes would: each runs beside the test, all share the
    test's prefix, and each is stopped, and its client closed, when the test ends."""

    def __init__(self, background: Background, url: str, prefix: str) -> None:
        self._background = background
        self._url = url
        self.prefix = prefix

    def start(
        self,
        *,
        url: str | None = None,
        refill_seconds: float = REFILL_SECONDS,
        timeout_s: float = TIMEOUT_S,
    ) -> RedisRateLimiter:
        limiter = RedisRateLimiter(
            url or self._url,
            prefix=self.prefix,
            refill_seconds=refill_seconds,
            timeout_s=timeout_s,
        )
        self._background.start(limiter.run())
        return limiter

    def key(self, user_id: int) -> str:
        return f"{self.prefix}:rate:{user_id}"


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def raw(redis_url: str, prefix: str) -> AsyncIterator[Redis]:
    """A plain client, to look at the buckets as Redis holds them; it removes the test's
    buckets at the end."""
    client = Redis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def processes(background: Background, redis_url: str, prefix: str, raw: Redis) -> Processes:
    return Processes(background, redis_url, prefix)


@pytest.fixture
async def silent_redis_url() -> AsyncIterator[str]:
    """A server that accepts connections and never answers, as a swamped Redis would."""
    connections: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()  # until the client hangs up

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    server.close()
    for writer in connections:
        writer.close()
    await server.wait_closed()


async def use_up(limiter: RedisRateLimiter, user_id: int) -> None:
    """Check until refused: with a short refill, a token may come back during the burst."""
    async with asyncio.timeout(2):
        while isinstance(await limiter.check(user_id), Allowed):
            pass


async def until_allowed(limiter: RedisRateLimiter, user_id: int) -> Allowed:
    async with asyncio.timeout(2):
        while True:
            decision = await limiter.check(user_id)
            if isinstance(decision, Allowed):
                return decision
            await asyncio.sleep(decision.retry_after_ms / 1000)


async def test_a_full_bucket_allows_ten_messages_then_refuses_with_the_wait(
    processes: Processes,
) -> None:
    limiter = processes.start()

    decisions = [await limiter.check(ALICE) for _ in range(10)]
    refused = await limiter.check(ALICE)

    assert decisions == [Allowed(remaining=n) for n in range(9, -1, -1)]
    assert isinstance(refused, Limited)
    assert 0 < refused.retry_after_ms <= 1000


async def test_spending_past_the_bucket_is_refused_as_too_fast_with_the_wait(
    processes: Processes,
) -> None:
    limiter = processes.start()
    for _ in range(10):
        await limiter.spend(ALICE, "sending messages")

    with pytest.raises(
        RateLimited, match=r"^You're sending messages too fast, try again in 1 s\.$"
    ) as refused:
        await limiter.spend(ALICE, "sending messages")

    assert 0 < refused.value.retry_after_ms <= 1000
    assert refused.value.retry_after_seconds == 1


async def test_each_person_has_a_bucket_of_their_own(processes: Processes) -> None:
    limiter = processes.start()
    await use_up(limiter, ALICE)

    assert await limiter.check(BOB) == Allowed(remaining=9)
    assert isinstance(await limiter.check(ALICE), Limited)


async def test_two_processes_on_one_redis_share_one_bucket(processes: Processes) -> None:
    first, second = processes.start(), processes.start()

    decisions = []
    for _ in range(5):
        decisions.append(await first.check(ALICE))
        decisions.append(await second.check(ALICE))

    assert decisions == [Allowed(remaining=n) for n in range(9, -1, -1)]
    assert isinstance(await first.check(ALICE), Limited)
    assert isinstance(await second.check(ALICE), Limited)


async def test_sends_racing_through_two_processes_never_take_more_than_ten_tokens(
    processes: Processes,
) -> None:
    first, second = processes.start(), processes.start()

    decisions = await asyncio.gather(
        *(limiter.check(ALICE) for _ in range(15) for limiter in (first, second))
    )

    allowed = sorted(d.remaining for d in decisions if isinstance(d, Allowed))
    assert allowed == list(range(10)), "each token taken exactly once"


async def test_a_person_limited_on_one_process_is_told_the_wait_on_another(
    processes: Processes,
) -> None:
    first, second = processes.start(), processes.start()
    await use_up(first, ALICE)

    told = await second.check(ALICE)
    assert isinstance(told, Limited)
    assert 0 < told.retry_after_ms <= 1000
    with pytest.raises(RateLimited, match="too fast, try again in 1 s"):
        await second.spend(ALICE, "sending messages")


async def test_a_refill_gives_back_one_token_and_the_next_wait_counts_from_that_refill(
    processes: Processes,
) -> None:
    # Long enough that the poll below sees the first token back before a second comes.
    refill_seconds = 0.5
    limiter = processes.start(refill_seconds=refill_seconds)
    await use_up(limiter, ALICE)

    assert await until_allowed(limiter, ALICE) == Allowed(remaining=0)
    refused = await limiter.check(ALICE)
    assert isinstance(refused, Limited)
    # From the refill just past, not a full period from this refusal: the poll took a
    # moment after the refill.
    assert 0 < refused.retry_after_ms <= refill_seconds * 1000


async def test_a_bucket_expires_in_redis_once_it_would_be_full_again(
    processes: Processes, raw: Redis
) -> None:
    limiter = processes.start()
    await limiter.check(ALICE)
    assert 0 < await raw.pttl(processes.key(ALICE)) <= 1000, "one token to come back"

    await use_up(limiter, ALICE)
    assert 9000 < await raw.pttl(processes.key(ALICE)) <= 10_000, "ten tokens to come back"

    quick = processes.start(refill_seconds=SHORT_REFILL_S)
    await use_up(quick, BOB)
    assert await raw.exists(processes.key(BOB)) == 1

    async def gone() -> bool:
        return await raw.exists(processes.key(BOB)) == 0

    await eventually(gone)
    assert await quick.check(BOB) == Allowed(remaining=9), "a full bucket again"


async def test_tracked_users_counts_this_processs_recent_posters_and_forgets_them_once_full(
    processes: Processes,
) -> None:
    limiter = processes.start(refill_seconds=SHORT_REFILL_S)
    other = processes.start(refill_seconds=SHORT_REFILL_S)
    assert limiter.tracked_users == 0

    await limiter.check(ALICE)
    await limiter.check(BOB)
    await other.check(CAROL)

    assert limiter.tracked_users == 2, "Carol posted through another process"

    async def forgotten() -> bool:
        return limiter.tracked_users == 0

    await eventually(forgotten)


async def test_tracked_users_counts_a_person_limited_by_another_process(
    processes: Processes,
) -> None:
    first, second = processes.start(), processes.start()
    await use_up(first, ALICE)

    assert isinstance(await second.check(ALICE), Limited)
    assert second.tracked_users == 1


async def test_an_unreachable_redis_refuses_the_spend_as_busy_at_once(
    processes: Processes,
) -> None:
    limiter = processes.start(url=UNUSED_PORT_URL)

    async with asyncio.timeout(1):
        with pytest.raises(
            Unavailable, match=r"^The server is very busy right now; try again in 1 s\.$"
        ) as refused:
            await limiter.spend(ALICE, "sending messages")

    assert refused.value.retry_after_seconds == 1
    assert isinstance(refused.value.__cause__, RedisError | OSError | TimeoutError)
    assert limiter.tracked_users == 0


async def test_a_redis_that_never_answers_refuses_as_busy_within_the_timeout(
    silent_redis_url: str, processes: Processes
) -> None:
    limiter = processes.start(url=silent_redis_url, timeout_s=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async with asyncio.timeout(1):
        with pytest.raises(Unavailable, match="busy"):
            await limiter.spend(ALICE, "sending messages")

    assert loop.time() - started < 0.5


async def test_a_key_redis_cannot_read_as_a_bucket_is_refused_as_busy_not_crashed(
    processes: Processes, raw: Redis
) -> None:
    limiter = processes.start()
    await raw.set(processes.key(ALICE), "not a bucket")

    with pytest.raises(Unavailable, match="busy") as refused:
        await limiter.spend(ALICE, "sending messages")

    assert isinstance(refused.value.__cause__, RedisError)


async def test_stopping_the_limiter_closes_its_connections_to_redis(
    background: Background, redis_url: str, prefix: str, raw: Redis
) -> None:
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    running = background.start(limiter.run())
    await limiter.check(ALICE)
    assert limiter.client_name in str(await raw.client_list())

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    async def disconnected() -> bool:
        return limiter.client_name not in str(await raw.client_list())

    await eventually(disconnected)
