"""One exception tree for synthgate.

Every error a user can cause or meet derives from :class:`SynthgateError`. Each
class carries the process exit code the command line uses for it and whether
the condition is *transient* (worth retrying: a connection reset, a server
starting) or *terminal* (fix something and rerun: a wrong password, a missing
table).

Messages are one line, name what is wrong and how to fix it, and never carry a
secret: every registered secret (values interpolated from the environment,
passwords found in URLs) is replaced by ``***`` when the message is rendered.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import ClassVar

__all__ = [
    "AuthenticationFailed",
    "ConfigError",
    "ConflictError",
    "ConnectionFailed",
    "GateFailed",
    "NotAuthenticated",
    "PermissionDenied",
    "PluginError",
    "PrivacyBudgetError",
    "ReleaseStateError",
    "SinkError",
    "SourceError",
    "SourceNotFound",
    "StoreError",
    "SynthesisError",
    "SynthgateError",
    "TableNotFound",
    "TargetNotWritable",
    "UnsupportedType",
    "redact",
    "register_secret",
]

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_MIN_SECRET_LEN = 3
# scheme://user:PASSWORD@host — the password runs to the LAST '@' before the host
# (an unencoded '@' in a password is still the password's), and may hold ':' and '/'
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s'\"<>]*:)"
    r"(?P<pw>[^\s'\"<>?#]+)"
    r"(?P<at>@)(?=[^@\s'\"<>?#]*(?:[\s'\"<>?#]|$))"
)
_PATTERNS: dict[frozenset[str], re.Pattern[str]] = {}


def register_secret(value: str | None) -> None:
    """Remember *value* so that it is masked in every message rendered later."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def _token(secret: str) -> str:
    """*secret* as a whole token: not preceded or followed by a letter, digit or '_'
    where its own first or last character is one (so 'ann' never masks 'annual')."""
    head = r"(?<!\w)" if re.match(r"\w", secret[0]) else ""
    tail = r"(?!\w)" if re.match(r"\w", secret[-1]) else ""
    return head + re.escape(secret) + tail


def _pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    pattern = _PATTERNS.get(secrets)
    if pattern is None:
        ordered = sorted(secrets, key=len, reverse=True)  # the longest match wins
        pattern = re.compile("|".join(_token(s) for s in ordered))
        if len(_PATTERNS) > 64:
            _PATTERNS.clear()
        _PATTERNS[secrets] = pattern
    return pattern


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Mask URL passwords, then registered secrets and *extra* values, in *text*.

    URLs are parsed first, so a password holding '@', ':' or '/' is masked whole.
    A secret is masked where it stands as a whole token, never inside another
    word: masking the 'short' of "too short" would tell the secret itself.
    """
    out = _URL_PASSWORD.sub(r"\g<head>***\g<at>", text)
    with _SECRETS_LOCK:
        secrets = frozenset({*_SECRETS, *(e for e in extra if e)})
    if not secrets:
        return out
    return _pattern(secrets).sub("***", out)


class SynthgateError(Exception):
    """Base of every synthgate error. ``exit_code`` is what the CLI returns."""

    exit_code: ClassVar[int] = 1
    transient: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        text = self.message if not self.hint else f"{self.message}; {self.hint}"
        return redact(" ".join(text.split()))


class ConfigError(SynthgateError):
    """The job spec, a command-line argument or a referenced file is wrong."""

    exit_code = 2

    def __init__(self, message: str, *, problems: Iterable[str] = (), hint: str | None = None):
        self.problems = [redact(p) for p in problems]
        super().__init__(message, hint=hint)


class PluginError(ConfigError):
    """A connector, synthesizer, policy or report section name is unknown."""


class SourceError(SynthgateError):
    """Reading the source failed."""


class SourceNotFound(SourceError):
    """The database, file or directory named by the URL does not exist (terminal)."""

    exit_code = 2


class TableNotFound(SourceNotFound):
    """The named table does not exist in the source (terminal)."""


class AuthenticationFailed(SourceError):
    """The database refused the credentials (terminal)."""

    exit_code = 2


class ConnectionFailed(SourceError):
    """The database could not be reached; retrying may help (transient)."""

    transient = True


class UnsupportedType(SourceError):
    """A column has a type the connector cannot map without losing data."""

    exit_code = 2


class SinkError(SynthgateError):
    """Writing to the target failed; the target is left as it was."""


class TargetNotWritable(SinkError):
    """The target path or database cannot be written (terminal)."""

    exit_code = 2


class SynthesisError(SynthgateError):
    """Training or sampling a synthesizer failed.

    ``spent_epsilon`` is the ε a failed fit had already spent when it stopped (DP
    mechanisms ran on real rows), or None when no mechanism ran. The runner
    charges it to the source's budget: the ledger never under-counts.
    """

    def __init__(
        self, message: str, *, hint: str | None = None, spent_epsilon: float | None = None
    ) -> None:
        self.spent_epsilon = spent_epsilon
        super().__init__(message, hint=hint)


class PrivacyBudgetError(SynthgateError):
    """The run would exceed the source's privacy budget."""

    exit_code = 5


class GateFailed(SynthgateError):
    """A blocking policy rule failed; the release is BLOCKED."""

    exit_code = 3


class ReleaseStateError(SynthgateError):
    """A release was asked to move to a state its current state does not allow."""

    exit_code = 2


class StoreError(SynthgateError):
    """The metadata store could not be opened or migrated."""


class PermissionDenied(SynthgateError):
    """The user may not do this: wrong role, or their own release (four-eyes)."""


class NotAuthenticated(PermissionDenied):
    """SYNTHGATE_USER / SYNTHGATE_TOKEN do not name an active user with that token."""


class ConflictError(SynthgateError):
    """Someone else changed the release first; review it again and retry."""
