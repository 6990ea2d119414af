"""Every concurrent process of livechat, shaped after OTP.

- ``supervisor``    one-for-one supervisors on ``asyncio.TaskGroup``, static or dynamic
- ``actor``         the GenServer shape: one task owning its state, fed through an inbox
- ``hub``           topic pub/sub of rendered fragments over a backend: in memory, or
                    Redis across processes (``backends/``)
- ``rooms``         a RoomServer per active room, started on demand and found by room id
- ``presence``      who is connected to which room, and who is typing
- ``presence_peers``  presence shared with the other processes through Redis
- ``rate_limiter``  a token bucket per user; ``shared_rate_limiter``, the same in Redis
- ``reconnect``     waiting out a lost Redis
- ``tree``          the supervision tree that runs all of it
"""
