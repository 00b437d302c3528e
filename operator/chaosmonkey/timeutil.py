"""Time-zone and duration helpers shared by the planners, the validation and the operator.

Wall-clock times ("10:00 in Europe/Madrid") are turned into instants with DST handled the
way a person expects: a wall time that does not exist (the hour skipped in spring) resolves to
the instant the clocks jump, and an ambiguous one (the hour repeated in autumn) to its first
occurrence, so "from 02:30" means "from the first moment the clock reads 02:30 or later".
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")

#: JSON Schema for a duration: whole seconds, or a string like "1h30m", "2d", "45s".
DURATION_SCHEMA: dict[str, object] = {
    "description": 'Seconds, or a duration such as "90s", "15m", "1h30m", "2d".',
    "oneOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^\s*(\d+d)?\s*(\d+h)?\s*(\d+m)?\s*(\d+s)?\s*$", "minLength": 2},
    ],
}
#: JSON Schema for a wall-clock time of day, "HH:MM" or "HH:MM:SS".
CLOCK_SCHEMA: dict[str, object] = {
    "type": "string",
    "pattern": r"^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$",
    "description": 'A time of day in the plan\'s time zone, "HH:MM" (24-hour clock).',
}


def get_timezone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError with a readable message when there is none."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("must be an IANA time zone name such as 'UTC' or 'Europe/Madrid'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Madrid')"
        ) from exc


def parse_duration(value: int | float | str) -> dt.timedelta:
    """Seconds (a number) or a string such as ``"1h30m"``; ValueError if malformed."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"invalid duration {value!r}: must be a non-negative number of seconds")
        return dt.timedelta(seconds=value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError(
            f'invalid duration {value!r}: use seconds or a form like "90s", "15m", "1h30m", "2d"'
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_clock(value: str) -> dt.time:
    """``"HH:MM"`` or ``"HH:MM:SS"`` as a time of day; ValueError if malformed."""
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'invalid time of day {value!r}: use "HH:MM" on a 24-hour clock')
    hour, minute, second = match.groups()
    return dt.time(int(hour), int(minute), int(second or 0))


def parse_datetime(value: str, timezone: dt.tzinfo) -> dt.datetime:
    """An ISO 8601 date or date-time; without an offset it is a wall time in ``timezone``."""
    if not isinstance(value, str):
        raise ValueError(f"invalid date {value!r}: expected an ISO 8601 string")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ValueError(
            f'invalid date {value!r}: use ISO 8601, e.g. "2026-06-21T15:30" or "2026-06-21T15:30:00+02:00"'
        ) from None
    if parsed.tzinfo is None:
        return wall_to_instant(parsed.date(), parsed.time(), timezone)
    return parsed.astimezone(UTC)


def wall_to_instant(day: dt.date, clock: dt.time, timezone: dt.tzinfo) -> dt.datetime:
    """The first instant (in UTC) at which the wall clock in ``timezone`` reads ``clock`` or later."""
    naive = dt.datetime.combine(day, clock)
    first = naive.replace(tzinfo=timezone, fold=0).astimezone(UTC)
    if first.astimezone(timezone).replace(tzinfo=None) == naive:
        return first
    # The wall time falls in a DST gap. fold=1 gives an instant before the jump and fold=0 one
    # after it; the answer is the jump itself: the first instant whose wall time is >= naive.
    # Transitions fall on whole seconds, so a search over whole seconds finds it exactly.
    low = math.floor(naive.replace(tzinfo=timezone, fold=1).timestamp())
    high = math.ceil(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if dt.datetime.fromtimestamp(middle, timezone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, UTC)


def ceil_second(moment: dt.datetime) -> dt.datetime:
    """``moment`` rounded up to a whole second."""
    if moment.microsecond:
        return moment.replace(microsecond=0) + dt.timedelta(seconds=1)
    return moment


def to_utc(moment: dt.datetime | str, timezone: dt.tzinfo) -> dt.datetime:
    """An aware UTC instant; naive datetimes (and ISO strings) are wall times in ``timezone``."""
    if isinstance(moment, str):
        return parse_datetime(moment, timezone)
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        return wall_to_instant(moment.date(), moment.time(), timezone)
    return moment.astimezone(UTC)


def rfc3339(moment: dt.datetime) -> str:
    """``2026-03-29T01:00:00Z``: how times are written to status."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
