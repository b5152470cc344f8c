"""The errors the domain speaks in: every error the AIReiter client raises, in one
hierarchy, and the config file's.

The UI maps each class to a sentence (:meth:`AIReiterError.human`); none of them ever
carries the API key (messages are built from status codes and our own words, and the
client scrubs anything taken from a response).
"""

from __future__ import annotations


class AIReiterError(Exception):
    """Base class for everything the client raises."""

    #: Short label for a table cell or a status line.
    label = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def human(self) -> str:
        """A sentence a person understands."""
        return self.message


class AuthenticationError(AIReiterError):
    """The API key is missing, wrong or not allowed (401/403, or an envelope saying so)."""

    label = "auth"


class TaskNotFoundError(AIReiterError):
    """The service does not know this task ID."""

    label = "not found"


class RateLimitedError(AIReiterError):
    """HTTP 429. ``retry_after`` is the server's delay in seconds, when it gave one."""

    label = "rate limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(AIReiterError):
    """The server (or a proxy in front of it) answered 5xx."""

    label = "server error"

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class NetworkError(AIReiterError):
    """No usable answer arrived: refused, reset, timed out, DNS failure."""

    label = "network"


class RequestTimeoutError(NetworkError):
    """The request took longer than the configured timeout."""

    label = "timeout"


class BadResponseError(AIReiterError):
    """An answer arrived but is not what the API documents.

    Not JSON, the wrong shape, too large (also once decompressed), nested too deeply, in
    an unknown content coding, an unexpected redirect, or an envelope whose ``statusCode``
    is not 200 even though HTTP said 200.
    """

    label = "bad response"


class WrongTaskError(BadResponseError):
    """The answer is about another task than the one asked (its ``task_id`` or
    ``out_task_id`` names a different one): taking it would show that task on this row."""

    label = "wrong task"


class NotSentError(NetworkError):
    """No connection was made (refused, name not resolved, TLS failed): the request never
    reached the server, so a submit certainly created nothing."""


class RejectedError(BadResponseError):
    """The server read a submit and refused it (HTTP 4xx or a 4xx ``statusCode``, other
    than 401/403/404/429): no task was created; the message holds the server's reason."""

    label = "rejected"


class InsecureURLError(AIReiterError):
    """The base URL is plain http to a host that is not this machine."""

    label = "insecure"


class ConfigError(Exception):
    """The config file (or an override) is unusable; ``str()`` is one sentence for a person."""
