"""Flux as InfluxDB's 2.x API speaks it (InfluxDB 2.x, and 1.8's compatibility API):
the queries an export sends, and what is read from answers other than the data.

Facts these follow, recorded from a real InfluxDB 1.8.3 (Flux 0.65.1):

* 1.8's ``range(start, stop)`` includes ``stop`` (2.x and 1.9+ exclude it), so
  every query also keeps ``_time < stop``, before any pivot;
* errors before the first table are an HTTP status (500 for query, plan and
  execution errors and for an unknown database or retention policy, 401 for
  auth) with the message in ``X-Influxdb-Error`` and a body of ``error\\n<message>``
  (CSV, Go quoting) or ``{"error": ...}``; errors after some tables come in-band,
  with status 200, as a last table of columns ``error,reference``;
* 1.8 reads a field with one type per query, the type it has in the first shard
  group that holds it, and silently drops the values of shard groups where it
  has another type (influxdb#20035, fixed for 2.0.x in influxdb#20064): an export over 1.x never
  lets one query span two shard groups.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import re
from collections.abc import Mapping, Sequence

#: Nanoseconds from Go's zero time (0001-01-01 UTC, a Monday) to the Unix
#: epoch: InfluxDB aligns shard groups to multiples of their duration from it.
_GO_ZERO_NS = -62_135_596_800 * 10**9

#: The last table of an answer whose query failed after streaming began.
_ERROR_TABLE = b"\n,error,reference"

#: Messages that mean the bucket (1.8: database or retention policy) or organisation is unknown.
_NO_BUCKET = re.compile(
    r"no database|invalid retention policy|retention policy not found|database not found"
    r"|bucket .*not found|could not find bucket|organization .*not found",
    re.IGNORECASE,
)


def string(text: str) -> str:
    """``text`` as a Flux string literal: quotes, backslashes, control characters
    and ``${`` (Flux's interpolation) escaped, so a value can never become syntax."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("${", "\\${")
    )
    return f'"{escaped}"'


def _source(bucket: str, measurement: str, lo: int, hi: int, fields: Sequence[str] = ()) -> str:
    """Points of ``measurement`` (and of ``fields`` only, where given) with ``lo <= _time < hi`` (ns)."""
    tests = [f"r._field == {string(field)}" for field in fields]
    chosen = "" if not tests else f" and {tests[0]}" if len(tests) == 1 else f" and ({' or '.join(tests)})"
    return (
        f"from(bucket: {string(bucket)})"
        f" |> range(start: time(v: {lo}), stop: time(v: {hi}))"
        f" |> filter(fn: (r) => r._measurement == {string(measurement)}{chosen})"
        # 1.8 includes `stop`; a filter of its own keeps the first one pushed down
        f" |> filter(fn: (r) => r._time < time(v: {hi}))"
    )


def data_query(bucket: str, measurement: str, lo: int, hi: int) -> str:
    """The points of ``[lo, hi)`` ns, one row per series and time, fields as columns."""
    return (
        _source(bucket, measurement, lo, hi)
        + ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        + ' |> drop(columns: ["_start", "_stop", "_measurement"])'
    )


def count_query(bucket: str, measurement: str, fields: Sequence[str], lo: int, hi: int, step: int) -> str:
    """The values of ``fields`` in ``[lo, hi)``, counted per ``step``-ns window
    aligned to the epoch, summed over the series and the fields: one row per
    window that has any."""
    return (
        _source(bucket, measurement, lo, hi, fields)
        + f" |> window(every: {step}ns, createEmpty: false)"
        + ' |> count() |> group(columns: ["_start"]) |> sum() |> group()'
        + ' |> keep(columns: ["_start", "_value"])'
    )


def request_body(query: str) -> bytes:
    """The JSON body of ``/api/v2/query`` for ``query``, with the annotations the parser reads."""
    return json.dumps(
        {
            "query": query,
            "type": "flux",
            "dialect": {"annotations": ["datatype", "group", "default"], "header": True},
        }
    ).encode()


def error_table(body: bytes) -> str | None:
    """The message of the in-band error table ending ``body`` (a query that
    failed after its first tables were sent), or ``None``."""
    at = body.rfind(_ERROR_TABLE)
    if at < 0:
        return None
    rows = list(csv.reader(io.StringIO(body[at + 1 :].decode("utf-8", "replace"))))
    return rows[1][1] if len(rows) > 1 and len(rows[1]) > 1 else "an error table without a message"


def error_message(headers: Mapping[str, str], body: str) -> str:
    """The server's message in an error answer: ``X-Influxdb-Error`` where sent,
    else the body's (``error\\n<message>`` CSV or ``{"error": ...}`` JSON)."""
    header = headers.get("X-Influxdb-Error")  # names as str.title() spells them
    if header:
        return header
    text = body.strip()
    if text.startswith("error\n") or text.startswith("error\r\n"):
        rows = list(csv.reader(io.StringIO(text)))
        return rows[1][0] if len(rows) > 1 and rows[1] else text
    try:
        parsed = json.loads(text)
    except ValueError:
        return text or "no detail"
    if isinstance(parsed, dict):
        return str(parsed.get("error") or parsed.get("message") or text)
    return text


def names_unknown_bucket(message: str) -> bool:
    """Whether ``message`` says the bucket (database or retention policy) does not exist."""
    return _NO_BUCKET.search(message) is not None


def counts(body: bytes) -> dict[int, int]:
    """A :func:`count_query` answer: the count per window start (ns).

    Raises:
        ValueError: ``body`` is not such an answer.
    """
    out: dict[int, int] = {}
    header: list[str] | None = None
    for line in body.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            header = None
            continue
        cells = line.split(",")
        if header is None:
            if "_start" not in cells or "_value" not in cells:
                raise ValueError(f"not a count answer: a header of {line[:120]!r}")
            header = cells
            continue
        row = dict(zip(header, cells, strict=False))
        start = rfc3339_ns(row["_start"])
        out[start] = out.get(start, 0) + int(row["_value"])
    return out


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def rfc3339_ns(text: str) -> int:
    """An RFC 3339 UTC time as Flux writes it (``Z``, up to 9 fraction digits) in ns since the epoch."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 UTC time")
    y, mo, d, h, mi, s, frac = match.groups()
    seconds = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0))
    return seconds * 10**9 + int((frac or "").ljust(9, "0"))


_GO_UNITS = {"h": 3_600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "µs": 10**3, "ns": 1}


def go_duration_ns(text: str) -> int:
    """A Go duration as InfluxDB prints it (``168h0m0s``, ``1h0m0s``) in ns."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a Go duration")
    return sum(round(float(n) * _GO_UNITS[u]) for n, u in parts)


def shard_group_edges(duration: int, lo: int, hi: int) -> list[int]:
    """The shard-group boundaries strictly inside ``(lo, hi)`` for groups of
    ``duration`` ns (aligned as InfluxDB aligns them: from Go's zero time, so
    weekly groups start on Mondays)."""
    first = lo - (lo - _GO_ZERO_NS) % duration + duration
    return list(range(first, hi, duration))
