"""What an operator watches, in Prometheus' text format at ``/metrics``.

Each app has a registry of its own rather than prometheus-client's global one, so that
apps built side by side (as the tests do) count apart. Counters and histograms are updated
where things happen, each update an increment under the client's own uncontended mutex,
never an await. Gauges of live state (sockets, room servers, waiting writes) are read from
that state at scrape time, so they cannot drift from it.

Labels come from fixed vocabularies only: refusal reasons, and supervisors with their
kinds of children. No room, person or connection ever becomes a label, so the number of
series stays the same however busy the server gets.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Why a message was not sent, by the kind of error its sender was shown; the room socket
# sorts its refusals into these (``error`` is a bug).
REFUSAL_REASONS = (
    "rate_limited", "bad_request", "forbidden", "not_found", "too_large", "unavailable",
    "busy", "error",
)  # fmt: skip

# SQLite commits a small transaction in about a millisecond; an actor's call gives up after
# five seconds, so nothing slower than that needs telling apart.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        ProcessCollector(registry=registry)
        self.open_sockets = Gauge(
            "livechat_open_sockets",
            "WebSockets open, of room pages and room lists.",
            registry=registry,
        )
        self.room_servers = Gauge(
            "livechat_room_servers", "Room servers running.", registry=registry
        )
        self.messages_posted = Counter(
            "livechat_messages_posted",
            "Messages stored; a message sent again is counted once.",
            registry=registry,
        )
        refused = Counter(
            "livechat_messages_refused",
            "Messages their sender was told could not be sent, by reason; frames the room"
            " socket could not read at all count as bad_request.",
            ["reason"],
            registry=registry,
        )
        # Every reason is a series from the start, so that rate() sees the first refusal.
        self._refused = {reason: refused.labels(reason) for reason in REFUSAL_REASONS}
        self.broadcasts_dropped = Counter(
            "livechat_broadcasts_dropped",
            "Broadcasts and replies thrown away because their socket fell too far behind;"
            " its page reconnects and catches up from the store.",
            registry=registry,
        )
        self.supervisor_restarts = Counter(
            "livechat_supervisor_restarts",
            "Children restarted after they crashed or ended, by supervisor and kind of child.",
            ["supervisor", "child"],
            registry=registry,
        )
        self.send_to_ack_seconds = Histogram(
            "livechat_send_to_ack_seconds",
            "From a message frame's arrival to its acknowledgement being queued to the page.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.db_write_seconds = Histogram(
            "livechat_db_write_seconds",
            "How long each write transaction held the single writer.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.db_write_queue = Gauge(
            "livechat_db_write_queue",
            "Write transactions waiting for the single writer.",
            registry=registry,
        )

    def refused(self, reason: str) -> None:
        """Count a message that was not sent, for one of ``REFUSAL_REASONS``."""
        self._refused[reason].inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
