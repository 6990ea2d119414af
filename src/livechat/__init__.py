"""livechat: a real-time chat server that pushes server-rendered HTML over WebSockets.

Layout, outside in:

- ``app``       builds the ASGI application and starts the supervision tree in its lifespan
- ``api``       the JSON API, its event stream and bots' webhooks
- ``web``       thin routes per page (the account pages too), CSRF and security headers,
                template rendering
- ``accounts``  users, sessions, API tokens, bots and the log-in throttle
- ``chat``      the Chat service: rooms, memberships, messages and search; business rules
- ``realtime``  every concurrent process: hub, supervisors, room servers, presence, limits
- ``db``        engines and sessions, SQLite's single writer or PostgreSQL's pool;
                ``schema`` migrates
- ``settings``  every knob, from ``LIVECHAT_*`` environment variables
"""
