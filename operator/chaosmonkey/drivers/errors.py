"""Errors raised by the driver factories, and keeping secrets out of messages."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "***"


class DriverError(Exception):
    """A cloud driver could not be built: missing region, missing or unreadable credentials.

    Messages name the variables, files and endpoints involved, never a credential's value.
    """


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each (non-empty) secret value replaced by ``***``.

    Provider errors may echo what was sent (AWS's SignatureDoesNotMatch quotes the canonical
    request, which holds the access key id and the session token), so messages built from
    them are passed through here before they reach logs or a plan's status.
    """
    # Longest first, so a secret containing another is removed whole.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
