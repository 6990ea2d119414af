"""livechat: a real-time chat server that pushes server-rendered HTML over WebSockets.

Layout, outside in:

- ``app``       builds the ASGI application and starts the supervision tree in its lifespan
- ``web``       thin routes per page, CSRF and security headers, template rendering
- ``accounts``  users, sessions, the auth pages and the log-in throttle
- ``chat``      the Chat service: rooms, memberships, messages and search; business rules
- ``realtime``  every concurrent process: hub, supervisors, room servers, presence, limits
- ``db``        engines and sessions, SQLite's single writer or PostgreSQL's pool;
                ``schema`` migrates
- ``settings``  every knob, from ``LIVECHAT_*`` environment variables
"""
