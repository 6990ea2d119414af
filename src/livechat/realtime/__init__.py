"""Every concurrent process of livechat, shaped after OTP.

- ``supervisor``    one-for-one supervisors on ``asyncio.TaskGroup``, static or dynamic
- ``actor``         the GenServer shape: one task owning its state, fed through an inbox
- ``hub``           topic pub/sub of rendered fragments over a pluggable backend
- ``rooms``         a RoomServer per active room, started on demand and found by room id
- ``presence``      who is connected to which room, and who is typing
- ``rate_limiter``  a token bucket per user
"""
