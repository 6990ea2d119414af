"""The errors the service layer raises, each carrying the HTTP status it is shown with.

Routes never build error responses themselves: one handler renders these as a page, a form
message or a ``#flash`` fragment.
"""

from __future__ import annotations


class LivechatError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(LivechatError):
    status_code = 400


class Forbidden(LivechatError):
    status_code = 403


class NotFound(LivechatError):
    status_code = 404


class Moved(NotFound):
    """A room asked for by a slug it had before a rename, by someone who may read it: it
    is at ``slug`` now. A kind of ``NotFound``, so that whatever does not follow renames
    takes an old slug for an unknown one."""

    def __init__(self, slug: str) -> None:
        super().__init__("This room has a new name.")
        self.slug = slug


class PayloadTooLarge(LivechatError):
    status_code = 413


class RateLimited(LivechatError):
    status_code = 429

    def __init__(self, message: str, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms

    @property
    def retry_after_seconds(self) -> int:
        return max(1, -(-self.retry_after_ms // 1000))


class Conflict(LivechatError):
    """What was asked was fine a moment ago, but someone else's change got there first
    (the same name taken, the same message sent, a room gone): asked again, it is
    answered for what is there now."""

    status_code = 409


class Unavailable(LivechatError):
    """Something is recovering from a fault; the caller may try again after a while."""

    status_code = 503

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
