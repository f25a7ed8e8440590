"""Conversions between Python values and what the Rust core takes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from dwcp_data.errors import InvalidArgumentError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DURATION_PART = re.compile(r"(\d+)(us|ms|s|m|h|d|w)")
_UNIT_US = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 604_800_000_000,
}


def positive_int(value: object, param: str) -> int:
    """``value`` if it is a whole number above 0 (not a bool), else ``InvalidArgumentError`` naming ``param``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgumentError.of(param, f"must be a positive whole number, got {value!r}")
    return value


def yes_or_no(value: object, param: str, where: str) -> bool:
    """``value`` as a yes-or-no setting: a bool, or text as configuration files,
    environment variables and UIs write it (``true``/``1``/``yes``/``on``,
    ``false``/``0``/``no``/``off``); else ``InvalidArgumentError`` naming
    ``param`` and ``where`` the value came from."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InvalidArgumentError.of(param, f"{where} is {value!r}: expected true or false")


def one_of(value: object, choices: tuple[object, ...], param: str) -> None:
    """Refuses a ``value`` not among ``choices`` with ``InvalidArgumentError`` naming ``param``."""
    if not any(value == c and type(value) is type(c) for c in choices):
        allowed = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
        raise InvalidArgumentError.of(param, f"must be {allowed}, got {value!r}")


def duration_us(value: str | timedelta, param: str) -> int:
    """Microseconds in a positive duration.

    ``value`` is a :class:`~datetime.timedelta` or a polars-style string of
    whole-number parts: ``"1h"``, ``"30m"``, ``"1h30m"``, ``"500ms"``, ``"2d"``,
    ``"1w"``, ``"250us"``. Calendar units (months, years) are refused: they
    have no fixed length.
    """
    if isinstance(value, timedelta):
        total = _microseconds(value)
    elif isinstance(value, str):
        text = value.strip()
        parts = _DURATION_PART.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise InvalidArgumentError.of(
                param, f"{value!r} is not a duration such as '1h', '30m', '1h30m', '15s', '500ms' or '1d'"
            )
        total = sum(int(n) * _UNIT_US[u] for n, u in parts)
    else:
        raise InvalidArgumentError.of(
            param, f"expected a duration string or datetime.timedelta, got {type(value).__name__}"
        )
    if total <= 0:
        raise InvalidArgumentError.of(param, f"must be positive, got {value!r}")
    if total >= 2**63:
        raise InvalidArgumentError.of(param, f"{value!r} is longer than any span of time a timestamp holds")
    return total


def utc_datetime(value: datetime | None, param: str) -> datetime:
    """``value`` as an aware UTC datetime; ``None`` is now, truncated to the second.

    A naive datetime is taken to be in UTC.
    """
    if value is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    if not isinstance(value, datetime):
        raise InvalidArgumentError.of(
            param, f"expected a datetime.datetime or None, got {type(value).__name__}"
        )
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):  # 9999-12-31T23:00-14:00 is in the year 10000 in UTC
        raise InvalidArgumentError.of(
            param, f"{value.isoformat()} is outside the years 1 to 9999 in UTC, which a datetime holds"
        ) from None


def _microseconds(delta: timedelta) -> int:
    """Exact microseconds of a timedelta (also of subclasses such as pendulum's Duration)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso_timestamp(micros: int) -> str:
    """ISO 8601 (UTC) of a time in microseconds since the epoch, as
    ``datetime.isoformat`` writes it; years a ``datetime`` cannot hold (before
    1 or after 9999, which a Polars Datetime can) are written by Polars."""
    try:
        return (_EPOCH + timedelta(microseconds=micros)).isoformat()
    except OverflowError:
        import polars as pl

        series = pl.Series([micros], dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
        return str(series.dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00")[0])


def epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (pendulum's too, as Airflow passes)."""
    return _microseconds(value - _EPOCH)
