"""The RedisRateLimiter: the RateLimiter's token bucket per user, shared by every server
process through Redis.

State: in Redis, one hash per person who posted recently, ``{prefix}:rate:{user_id}``,
holding the tokens left and when the bucket was last refilled. The rule is the actor's: a
bucket of ``capacity`` tokens, one message spends one, one comes back every
``refill_seconds``, whichever process the messages go through. A hash expires once its
bucket would be full again, so Redis holds only the people who posted recently.

The bucket is one Lua script, so that reading, refilling and spending is atomic across
processes (two sends through two processes can never both take the last token) and costs
one round trip. The script goes by Redis's clock, not the callers': processes on hosts
whose clocks disagree still agree on when a token comes back.

When Redis does not answer in time, or cannot be reached, posting is refused as busy, as
the actor refuses when it is overloaded: never a crash of the room or socket that asked.
A send refused as busy spends nothing, unless Redis ran the script after all and only its
answer came too late.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from livechat.errors import RateLimited, Unavailable
from livechat.realtime.rate_limiter import CAPACITY, REFILL_SECONDS, Allowed, Decision, Limited

# Redis answers in well under a millisecond: one that has not within half a second is down
# or swamped, and a send refused as busy beats a room stalled behind it.
TIMEOUT_S = 0.5
# Per process. A burst of sends beyond this waits for a connection, within the timeout,
# rather than opening one each.
MAX_CONNECTIONS = 50

# KEYS[1]: the person's bucket. ARGV[1]: its capacity; ARGV[2]: the refill period in
# microseconds. Answers {1, tokens left, ms until full} or {0, ms until the next token,
# ms until full}.
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local refill_us = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local state = redis.call('HMGET', KEYS[1], 'tokens', 'refilled_at')
local tokens = tonumber(state[1])
local refilled_at = tonumber(state[2])
if tokens == nil or refilled_at == nil then
  tokens = capacity
  refilled_at = now
else
  -- Whole tokens for whole periods only: the wait counts from the last refill.
  local periods = math.floor((now - refilled_at) / refill_us)
  if periods > 0 then
    tokens = tokens + periods
    refilled_at = refilled_at + periods * refill_us
  end
  -- A full bucket saves no time towards tokens it has no room for.
  if tokens >= capacity then
    tokens = capacity
    refilled_at = now
  end
end

if tokens == 0 then
  local full_ms = math.ceil((refilled_at + capacity * refill_us - now) / 1000)
  local wait_ms = math.ceil((refilled_at + refill_us - now) / 1000)
  return {0, math.max(1, wait_ms), math.max(1, full_ms)}
end

tokens = tokens - 1
local full_ms = math.max(1, math.ceil((refilled_at + (capacity - tokens) * refill_us - now) / 1000))
redis.call('HSET', KEYS[1], 'tokens', tokens, 'refilled_at', refilled_at)
redis.call('PEXPIRE', KEYS[1], full_ms)
return {1, tokens, full_ms}
"""


class RedisRateLimiter:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "livechat",
        capacity: int = CAPACITY,
        refill_seconds: float = REFILL_SECONDS,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        refill_us = round(refill_seconds * 1_000_000)
        if refill_us < 1:
            raise ValueError(f"refill_seconds must be positive, not {refill_seconds}")
        # Also the name its connections carry in Redis's CLIENT LIST.
        self.client_name = f"livechat-rate-limiter-{uuid.uuid4().hex}"
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout_s,
            client_name=self.client_name,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # One immediate retry gets past a pooled connection that Redis closed (a
            # restart, an idle timeout); more would only hold the sender up.
            retry=Retry(NoBackoff(), retries=1),
        )
        self._redis = Redis.from_pool(pool)
        self._bucket = self._redis.register_script(_BUCKET_SCRIPT)
        self._prefix = prefix
        self._capacity = capacity
        self._refill_us = refill_us
        self._refill_seconds = refill_seconds
        self._timeout_s = timeout_s
        # user_id -> when (time.monotonic) their bucket would be full again.
        self._full_at: dict[int, float] = {}
        self._pruned_at = time.monotonic()

    async def check(self, user_id: int) -> Decision:
        """Spend one of the person's tokens if they have one; raises ``RedisError``,
        ``OSError`` or ``TimeoutError`` when Redis does not answer within the timeout."""
        async with asyncio.timeout(self._timeout_s):
            reply = await self._bucket(
                keys=[f"{self._prefix}:rate:{user_id}"],
                args=[self._capacity, self._refill_us],
            )
        allowed, amount, full_ms = (int(value) for value in reply)
        self._remember(user_id, full_ms)
        if allowed:
            return Allowed(remaining=amount)
        return Limited(retry_after_ms=amount)

    async def spend(self, user_id: int, doing: str) -> None:
        """Take one of the person's tokens, or refuse what they are ``doing`` ("sending
        messages"): ``RateLimited`` with the wait, or ``Unavailable`` while Redis does not
        answer in time or cannot be reached."""
        try:
            decision = await self.check(user_id)
        except (RedisError, OSError, TimeoutError) as error:
            raise Unavailable("The server is very busy right now; try again in 1 s.", 1) from error
        if isinstance(decision, Limited):
            seconds = max(1, math.ceil(decision.retry_after_ms / 1000))
            raise RateLimited(
                f"You're {doing} too fast, try again in {seconds} s.", decision.retry_after_ms
            )

    async def run(self) -> None:
        """Wait until cancelled, then close the connections to Redis: the buckets live in
        Redis, so there is no loop here, but the tree stops this like any other child."""
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            await self._redis.aclose()

    @property
    def tracked_users(self) -> int:
        """How many of the people this process asked about have a bucket that is not full
        again yet. This process only: others' posters are not counted."""
        self._prune(time.monotonic())
        return len(self._full_at)

    def _remember(self, user_id: int, full_ms: int) -> None:
        now = time.monotonic()
        self._full_at[user_id] = now + full_ms / 1000
        # Once a refill period at most, so each send costs the same however many people
        # posted recently; an entry outlives its bucket by a period at most.
        if now - self._pruned_at >= self._refill_seconds:
            self._prune(now)

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        for user_id, full_at in list(self._full_at.items()):
            if full_at <= now:
                del self._full_at[user_id]
