"""InfluxDB: write metrics as line protocol, export them into the training schema.

InfluxDB 1.x is spoken with ``database=`` (InfluxQL over ``/query``, CSV
responses, ``/write``); the 2.x API with ``bucket=`` (and ``org=`` on 2.x:
Flux over ``/api/v2/query``, annotated CSV, ``/api/v2/write``), which InfluxDB
2.x and 1.8's compatibility API (bucket ``db/rp``) serve. Line protocol is
encoded and responses are parsed in Rust; HTTP uses the standard library.

Tests run the 1.x path against a real ``influxd`` (Debian's 1.6.7). That server
has no Flux, so the 2.x API is tested against a local stub that answers as a
real InfluxDB 1.8.3 was recorded answering (``tests/data/influxdb-1.8-flux``).
"""

from __future__ import annotations

import base64
import bisect
import http.client
import ipaddress
import itertools
import json
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import polars as pl

from dwcp_data import _core, _flux
from dwcp_data._convert import duration_us, epoch_us, one_of, positive_int, utc_datetime
from dwcp_data._frames import FrameLike, from_core, to_core, to_polars
from dwcp_data._outputs import export_folder
from dwcp_data.errors import DataError, InfluxError, InvalidArgumentError
from dwcp_data.io import write_frames
from dwcp_data.schema import SCHEMA

__all__ = [
    "EXPORT_CONCURRENCY",
    "MEASUREMENT",
    "SERIES_WARNING_THRESHOLD",
    "TAGS",
    "Connection",
    "ExportReport",
    "SeriesCountWarning",
    "ValuesNotStoredWarning",
    "WriteReport",
    "export_metrics",
    "export_to_file",
    "export_to_folder",
    "write_metrics",
]

#: The measurement metrics are written to and read from.
MEASUREMENT = "compression_metrics"
#: The columns :func:`write_metrics` writes as tags by default: the five the
#: design document's Go collector (§3.1) tags.
TAGS: tuple[str, ...] = tuple(_core.INFLUX_TAG_COLUMNS)
#: More series than this in one written frame draws a :class:`SeriesCountWarning`.
SERIES_WARNING_THRESHOLD = 100_000
_RETRY_STATUS = {429, 500, 502, 503, 504}
#: gzip level of posted line protocol: the fastest (the server reads any level).
_GZIP_LEVEL = 1
#: Longest single wait between two attempts, in seconds.
_MAX_BACKOFF = 10.0
#: The field counted to check an export window is complete: a required field, so
#: its count is (nearly) the number of points, at a fraction of ``COUNT(*)``'s cost.
_COUNTED_FIELD = "rtt_ms"


@dataclass(frozen=True)
class Connection:
    """Where and how to reach a server.

    Exactly one of ``database`` (InfluxDB 1.x: InfluxQL) and ``bucket`` (the
    2.x API: Flux) is given. ``org`` is the 2.x organisation; InfluxDB 1.8's
    compatibility API, where ``bucket`` is ``db/rp`` (or ``db``), ignores it and
    it may be left out. Credentials: ``token`` (2.x; ``username:password`` on
    1.x and 1.8's 2.x API), or ``username`` and ``password`` (1.x basic auth).

    ``timeout`` bounds each request in all: connecting, reading the answer,
    retries and waits for a busy server (429, 503, or InfluxDB's
    "cache-max-memory-size exceeded"); ``retries`` counts the retries after
    connection errors and other 5xx. Credentials in ``url``
    (``http://user:password@host``) are used as basic auth and removed from
    the URL; no credential appears in a message or ``repr``.
    """

    url: str
    database: str | None = None
    bucket: str | None = None
    org: str | None = None
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 120.0
    retries: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            shown = _without_credentials(self.url) if isinstance(self.url, str) else type(self.url).__name__
            raise InvalidArgumentError(
                f"invalid argument `url`: expected http(s)://host:port, got {shown!r}", param="url"
            )
        parts = urllib.parse.urlsplit(self.url)
        if parts.username is not None:
            # Credentials in the URL become basic auth; the URL kept (and shown) has none.
            object.__setattr__(self, "url", _without_credentials(self.url))
            if self.token is None and self.username is None:
                object.__setattr__(self, "username", urllib.parse.unquote(parts.username))
                object.__setattr__(self, "password", urllib.parse.unquote(parts.password or ""))
        if (self.database is None) == (self.bucket is None):
            raise InvalidArgumentError(
                "give exactly one of `database` (InfluxDB 1.x) and `bucket` (2.x)", param="database"
            )
        if self.timeout <= 0 or self.retries < 0:
            raise InvalidArgumentError(
                "invalid argument `timeout`: must be positive (retries >= 0)", param="timeout"
            )

    @property
    def base(self) -> str:
        """The server URL, as errors show it."""
        return self.url.rstrip("/")

    def _headers(self) -> dict[str, str]:
        # InfluxDB 1.x before 1.8 takes no Token header: a 1.x "username:password"
        # token goes as basic auth, which every 1.x accepts.
        if self.token and not (self.database is not None and ":" in self.token):
            return {"Authorization": f"Token {self.token}"}
        pair = self.token if self.token else None
        if pair is None and self.username is not None:
            pair = f"{self.username}:{self.password or ''}"
        if pair is not None:
            return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        return {}

    @property
    def is_local(self) -> bool:
        """Whether the server is on this machine (a loopback host in the URL)."""
        host = urllib.parse.urlsplit(self.url).hostname or ""
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:  # a host name: not resolved here
            return False

    def write(self, body: bytes, on_busy: Callable[[], None] | None = None, *, gzipped: bool) -> None:
        """Post line protocol (ns times) to the database or bucket, as ``body``
        is: gzip-compressed when ``gzipped`` says so. ``on_busy`` is called
        whenever the server asks to slow down."""
        if self.database is not None:
            path, params = "/write", {"db": self.database, "precision": "ns"}
        else:
            path, params = (
                "/api/v2/write",
                {**({"org": self.org} if self.org else {}), "bucket": self.bucket or "", "precision": "ns"},
            )
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        self.request("POST", path, params, body, headers, on_busy)

    def flux(self, query: str) -> bytes:
        """The annotated-CSV answer to a Flux ``query`` (an in-band error table included)."""
        params = {"org": self.org} if self.org else {}
        headers = {"Content-Type": "application/json", "Accept": "application/csv"}
        return self.request(
            "POST", "/api/v2/query", params, _flux.request_body(query), headers, expect_csv=True
        )

    def server_version(self) -> str:
        """The version ``/ping`` names (``X-Influxdb-Version``: ``1.8.3``,
        ``v2.7.11``), or ``""`` where it names none."""
        seen: dict[str, str] = {}
        self.request("GET", "/ping", {}, answer_headers=seen)
        return seen.get("X-Influxdb-Version", "")

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        on_busy: Callable[[], None] | None = None,
        expect_csv: bool = False,
        answer_headers: dict[str, str] | None = None,
    ) -> bytes:
        """One HTTP request with retries (exponential backoff and jitter) on
        connection errors, 429 and 5xx; the response body, read whole.

        ``timeout`` bounds all of it: connecting, a server that answers slowly
        or never finishes, the retries and the waits. A busy server is waited
        for within that time whatever ``retries`` says: it is asking the client
        to slow down, not failing. With ``expect_csv`` an answer that is not
        CSV (an error in JSON, an HTML page from a proxy) raises. The answer's
        headers are copied into ``answer_headers`` where given.
        """
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        all_headers = {**self._headers(), **(headers or {})}
        deadline = time.monotonic() + self.timeout
        attempt = waits = 0
        while True:
            request = urllib.request.Request(url, data=body, method=method, headers=all_headers)
            try:
                remaining = max(deadline - time.monotonic(), 0.001)
                with urllib.request.urlopen(request, timeout=remaining) as response:
                    data = _read_before(response, deadline)
                    if answer_headers is not None:
                        answer_headers.update((k.title(), v) for k, v in response.headers.items())
                    if expect_csv:
                        self._check_csv(path, response.headers.get_content_type(), data)
                    return data
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace").strip()
                said = {k.title(): v for k, v in exc.headers.items()}
                message = _flux.error_message(said, detail)
                if exc.code in (401, 403):
                    raise InfluxError(
                        f"{self.base}: not authorised ({exc.code}): check the credentials",
                        url=self.base,
                        kind="auth",
                    ) from None
                if exc.code == 404 and path.startswith("/api/v2") and "page not found" in detail:
                    raise InfluxError(
                        f"{self.base}: the server has no {path} (InfluxDB 1.x has no Flux or v2 API): "
                        "give database= (--database) instead of bucket= and org=",
                        url=self.base,
                        kind="server",
                    ) from None
                if exc.code in (404, 500) and _flux.names_unknown_bucket(message):
                    # 1.8 answers an unknown retention policy with a 500: never retried
                    raise InfluxError(f"{self.base}: {message}", url=self.base, kind="database") from None
                engine_said = "X-Influxdb-Error" in said or "X-Platform-Error-Code" in said
                if path == "/api/v2/query" and exc.code in (400, 500) and engine_said:
                    # the query engine's own verdict (syntax, types, plan, execution): never retried
                    raise InfluxError(
                        f"{self.base}: the query failed: {_shortened(message)}", url=self.base, kind="query"
                    ) from None
                if exc.code == 400 and "partial write" in message:
                    raise InfluxError(
                        f"{self.base}{path}: the server stored only part of the batch: {_shortened(message)}",
                        url=self.base,
                        kind="partial",
                        dropped=_dropped(message),
                    ) from None
                busy = exc.code in (429, 503) or "cache-max-memory-size exceeded" in detail
                if not busy and (exc.code not in _RETRY_STATUS or attempt == self.retries):
                    raise InfluxError(
                        f"{self.base}{path}: HTTP {exc.code}: {message}",
                        url=self.base,
                        kind="server",
                    ) from None
                if not busy:
                    attempt += 1
                elif on_busy is not None:
                    on_busy()
                delay = float(exc.headers.get("Retry-After") or 0)
                why = f"HTTP {exc.code}: the server stayed busy: {message}" if busy else ""
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                ConnectionError,
                TimeoutError,
                OSError,
            ) as exc:
                reason = getattr(exc, "reason", exc)
                if time.monotonic() >= deadline:
                    raise self._timed_out(path, reason) from None
                if attempt == self.retries:
                    raise InfluxError(
                        f"{self.base}: cannot reach the server after {attempt + 1} attempt(s): {reason}",
                        url=self.base,
                        kind="unreachable",
                    ) from None
                attempt += 1
                delay, why = 0.0, str(reason)
            delay = max(delay, min(_MAX_BACKOFF, 0.1 * 2**waits) * (1 + random.random()))
            if time.monotonic() + delay >= deadline:
                raise self._timed_out(path, why)
            waits += 1
            time.sleep(delay)

    def _timed_out(self, path: str, why: object) -> InfluxError:
        return InfluxError(
            f"{self.base}{path}: no complete answer within timeout={self.timeout:g} s"
            + (f" ({why})" if why else ""),
            url=self.base,
            kind="timeout",
        )

    def _check_csv(self, path: str, content_type: str, data: bytes) -> None:
        """Raise unless ``data`` is a CSV answer (InfluxDB may answer errors in JSON with 200)."""
        if content_type.endswith("csv") or (not data and content_type == "text/plain"):
            return
        if content_type == "application/json":
            text = _flux.error_message({}, data.decode("utf-8", "replace"))
        else:
            text = f"{content_type} instead of CSV: {data[:200]!r}"
        raise InfluxError(f"{self.base}{path}: not an InfluxDB answer: {text}", url=self.base, kind="server")


#: Whether plain-socket answers are read in Rust (Unix builds have the reader;
#: TLS answers always go through http.client).
_RUST_READS = hasattr(_core, "read_http_body")


def _read_before(response: http.client.HTTPResponse, deadline: float) -> bytes:
    """The whole body of ``response``, or ``TimeoutError`` once ``deadline`` passes
    (a server may trickle its answer a byte at a time).

    On a plain socket the body is read in Rust straight from the socket into one
    buffer, chunked framing removed in place: http.client's layers (a buffered
    reader, chunk-by-chunk decoding, a bytes object per read, a join) cost more
    CPU than parsing the CSV, and on a 2-core machine that CPU is taken from the
    server. The request asked the server to close the connection after the
    answer, so the end of the stream ends an answer without a length.
    """
    fp = response.fp
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if not _RUST_READS or fp is None or sock is None or isinstance(sock, ssl.SSLSocket):
        return _read_through_http_client(response, sock, deadline)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the answer did not finish in time")
    length = None if response.chunked else response.length
    if length == 0:
        return b""
    sock.settimeout(remaining)
    buffered = fp.peek()  # bytes http.client's reader already holds (or one read)
    prefix = fp.read(len(buffered))
    remaining = max(deadline - time.monotonic(), 0.0)
    try:
        body = _core.read_http_body(sock.fileno(), prefix, length, bool(response.chunked), remaining)
    except DataError as exc:
        raise http.client.IncompleteRead(b"", None) from exc
    response.close()  # every byte was consumed behind http.client's back
    return body


def _read_through_http_client(
    response: http.client.HTTPResponse, sock: socket.socket | None, deadline: float
) -> bytes:
    """The whole body of ``response`` read through http.client (TLS connections)."""
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the answer did not finish in time")
        if sock is not None:
            sock.settimeout(remaining)
        chunk = response.read1(1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.rpartition("@")[2]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def _shortened(text: str, keep: int = 120) -> str:
    """``text`` with every run of more than ``keep`` characters without a
    space cut (a server may echo a 64 KiB tag value back)."""
    return re.sub(rf"\S{{{keep},}}", lambda m: f"{m[0][:keep]}...({len(m[0]):,} characters)", text)


def _dropped(text: str) -> int | None:
    """How many points a partial write lost: those InfluxDB could not parse
    (1.x counts them apart) plus its ``dropped=N``; ``None`` if it does not say."""
    counts = [int(n) for n in re.findall(r"dropped=(\d+)", text)]
    unparsed = text.count("unable to parse")
    return sum(counts) + unparsed if counts or unparsed else None


# --- writing --------------------------------------------------------------------------------------


class _Throttle:
    """How many writes may be in flight: additive increase, multiplicative decrease.

    Starts at ``limit``; a busy answer halves it (down to one), and every
    ``limit`` writes in a row that went through raise it by one again. A server
    that cannot keep up (InfluxDB 1.x answers a full write cache with 500s) is
    then fed one batch at a time rather than retries from every worker.
    """

    def __init__(self, limit: int) -> None:
        self.most = self.limit = limit
        self.in_flight = self.streak = 0
        self.changed = threading.Condition()

    def __enter__(self) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    def __exit__(self, exc_type: object, *_: object) -> None:
        with self.changed:
            self.in_flight -= 1
            if exc_type is None:
                self.streak += 1
                if self.streak >= self.most and self.limit < self.most:
                    self.limit, self.streak = self.limit + 1, 0
            self.changed.notify_all()

    def busy(self) -> None:
        """The server asked to slow down."""
        with self.changed:
            self.limit, self.streak = max(1, self.limit // 2), 0


class SeriesCountWarning(UserWarning):
    """The chosen tags make so many series that InfluxDB will slow down (and,
    for 1.x, need memory per series on every ``SELECT *``)."""


def _series_keys(tags: Sequence[str]) -> list[pl.Expr]:
    """What makes a point's series: its tag values, a null tag being the same as
    an empty one (the encoder leaves both out)."""
    return [pl.col(t).cast(pl.String).fill_null("").alias(t) for t in tags]


#: A run of an odd number of backslashes before a separator or at the end: InfluxDB
#: 1.x cannot read such a tag value back (the Rust encoder refuses it too).
_UNWRITABLE_TAG = r"(?:^|[^\\])(?:\\\\)*\\(?:[,= ]|$)"


#: The longest key InfluxDB stores: a point's series key (measurement and
#: tags, escaped), ``#!~#`` and its longest field key (measured on a real
#: server: one byte more and the point is refused).
MAX_SERIES_KEY_BYTES = 65_535
#: The times line protocol can carry: nanoseconds in a signed 64-bit integer
#: (1677-09-21 to 2262-04-11), in microseconds.
_NS_RANGE_US = (-(2**63) // 1000 + 1, (2**63 - 1) // 1000)


def _escaped_bytes(text: pl.Expr) -> pl.Expr:
    """The length of a tag key or value in line protocol: its bytes and a
    backslash before each comma, equals sign and space."""
    return text.str.len_bytes() + text.str.count_matches(r"[,= ]").cast(pl.UInt32)


def _check_writable(frame: pl.DataFrame, tags: Sequence[str]) -> None:
    """Raise before anything is sent if a row cannot be written as it is: a
    null time or one outside 1677-2262, a line break in a text value (line
    protocol has no escape for it), a tag value InfluxDB would read back
    altered (see :data:`_UNWRITABLE_TAG`), or tags whose series key is longer
    than InfluxDB stores (:data:`MAX_SERIES_KEY_BYTES`)."""
    if "timestamp" not in frame.columns:
        raise DataError(
            "points need a `timestamp` column", column="timestamp", row=None, rule="line_protocol"
        )
    micros = pl.col("timestamp").dt.epoch("us")
    checks: list[tuple[str, pl.Expr, str]] = [
        ("timestamp", pl.col("timestamp").is_null(), "has no time"),
        (
            "timestamp",
            ~micros.is_between(*_NS_RANGE_US).fill_null(True),
            "is outside the times InfluxDB stores (nanoseconds from 1677-09-21 to 2262-04-11)",
        ),
    ]
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.String):
            bad = pl.col(name).str.contains(r"[\r\n]")
            why = "holds a line break, which line protocol cannot carry"
            if name in tags:
                bad = bad | pl.col(name).str.contains(_UNWRITABLE_TAG)
                why += ", or backslashes InfluxDB would not read back as written"
            checks.append((name, bad.fill_null(False), why))
    if tags:
        checks.append(_series_key_check(frame, tags))
    first_bad = frame.select(
        pl.when(bad).then(pl.int_range(pl.len())).min().alias(str(k)) for k, (_, bad, _) in enumerate(checks)
    ).row(0)
    for (name, _, why), row in zip(checks, first_bad, strict=True):
        if row is not None:
            raise DataError(
                f"cannot write row {row}: `{name}` {why}; nothing was sent",
                column=name,
                row=row,
                rule="line_protocol",
            )


def _series_key_check(frame: pl.DataFrame, tags: Sequence[str]) -> tuple[str, pl.Expr, str]:
    """The check that each point's key fits InfluxDB (see :data:`MAX_SERIES_KEY_BYTES`):
    the column to blame (the longest tag), which rows break it, and why."""
    values = [pl.col(t).cast(pl.String).fill_null("") for t in tags]
    series_key = sum(
        (
            pl.when(v != "").then(2 + len(_escape_key(t).encode()) + _escaped_bytes(v)).otherwise(0)
            for t, v in zip(tags, values, strict=True)
        ),
        pl.lit(len(MEASUREMENT)),
    )
    written = [
        pl.when(pl.col(c).is_finite() if t.is_float() else pl.col(c).is_not_null()).then(
            len(_escape_key(c).encode())
        )
        for c, t in frame.schema.items()
        if c != "timestamp" and c not in tags
    ]
    longest_field = pl.max_horizontal(written).fill_null(0) if written else pl.lit(0)
    blame = max(tags, key=lambda t: frame[t].cast(pl.String).str.len_bytes().max() or 0)
    why = f"makes, with the other tags and the fields, a key longer than the {MAX_SERIES_KEY_BYTES:,} bytes InfluxDB stores"
    return blame, series_key + 4 + longest_field > MAX_SERIES_KEY_BYTES, why


def _escape_key(name: str) -> str:
    """A tag key as line protocol writes it."""
    return re.sub(r"([,= ])", r"\\\1", name)


def _collisions(frame: pl.DataFrame, tags: Sequence[str]) -> pl.Series:
    """Rows whose tag set and time an earlier row already has: InfluxDB would
    keep one point for both (the later one's fields overwrite the earlier's)."""
    key = pl.struct(*_series_keys(tags), pl.col("timestamp").dt.epoch("ns"))
    return frame.select(key.is_first_distinct().not_().arg_true()).to_series()


def _spread(frame: pl.DataFrame, tags: Sequence[str]) -> pl.DataFrame:
    """``frame`` with its times as ns, moved apart by whole nanoseconds so that no
    two rows of one tag set share a time: within a tag set, in time order, each
    row gets the smallest time that is at least its own and later than the
    previous row's (rows that did not collide keep their time)."""
    keys = [f"__tag{i}" for i in range(len(tags))]
    t, i = pl.col("__t"), pl.col("__i")
    spread = (
        frame.select(
            pl.int_range(pl.len()).alias("__row"),
            pl.col("timestamp").dt.epoch("ns").alias("__t"),
            *(e.alias(k) for e, k in zip(_series_keys(tags), keys, strict=True)),
        )
        .sort([*keys, "__t", "__row"])
        .with_columns(pl.int_range(pl.len()).over(keys).alias("__i"))
        .with_columns((i + (t - i).cum_max().over(keys)).alias("__t"))
        .sort("__row")
    )
    time_zone = getattr(frame.schema["timestamp"], "time_zone", None) or "UTC"
    return frame.with_columns(
        pl.from_epoch(spread["__t"], "ns").dt.replace_time_zone(time_zone).alias("timestamp")
    )


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_metrics` sent.

    Attributes:
        points: points the server stored.
        skipped: rows without any field to write.
        batches: batches posted (and stored, whole or in part).
        seconds: time taken.
        landed: the row ranges ``[start, end)`` of the frame stored whole (all
            of it, unless the report hangs on an
            :class:`~dwcp_data.errors.InfluxError` as ``report``).
        partly_landed: ``(start, end, stored)`` of each batch the server stored
            only in part (``kind="partial"``).
        not_stored: per column, values InfluxDB cannot hold as they are, which
            read back as null: NaN and infinities (left out of the point) and
            empty strings (an empty tag is left out; an empty string field
            reads back as null). A :class:`ValuesNotStoredWarning` says so.
    """

    points: int
    skipped: int
    batches: int
    seconds: float
    landed: tuple[tuple[int, int], ...] = ()
    partly_landed: tuple[tuple[int, int, int], ...] = ()
    not_stored: dict[str, int] = field(default_factory=dict)


class ValuesNotStoredWarning(UserWarning):
    """Some values of a frame written to InfluxDB read back as null: NaN,
    infinities and empty strings, which it cannot hold (see :attr:`WriteReport.not_stored`)."""


def _not_stored(frame: pl.DataFrame) -> dict[str, int]:
    """Per column, the values InfluxDB cannot hold as they are (see :class:`WriteReport`)."""
    counts = []
    for name, dtype in frame.schema.items():
        if dtype.is_float():
            counts.append((~pl.col(name).is_finite()).sum().alias(name))
        elif isinstance(dtype, (pl.String, pl.Categorical)):
            counts.append((pl.col(name).cast(pl.String) == "").sum().alias(name))
    if not counts:
        return {}
    return {name: int(n) for name, n in frame.select(counts).row(0, named=True).items() if n}


def write_metrics(
    df: FrameLike,
    *,
    url: str,
    database: str | None = None,
    bucket: str | None = None,
    org: str | None = None,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    tags: Sequence[str] = TAGS,
    on_collision: Literal["raise", "spread"] = "raise",
    batch_size: int = 5000,
    concurrency: int = 4,
    gzip: bool | None = None,
    timeout: float = 120.0,
    retries: int = 4,
) -> WriteReport:
    """Write a training-schema frame to InfluxDB as measurement ``compression_metrics``.

    The layout is the design document's collector's (§3.1): tags are the
    ``tags`` columns, by default :data:`TAGS` (``region``, ``az``,
    ``link_type``, ``data_type``, ``current_compression``); empty and null tags
    are left out. Every other column is a typed field (``node_id`` and
    ``peer_id`` are string fields): integers with the ``i`` suffix, floats,
    text as strings; nulls, NaN and infinities left out. ``timestamp`` is the
    point time in ns. Batches of ``batch_size`` rows are encoded in Rust,
    and posted ``concurrency`` at a time. Used for backfills and to seed test
    servers. :func:`export_metrics` reads any layout back.

    ``gzip`` compresses each batch (libdeflate's fastest level, in Rust: about
    4× fewer bytes for 3.6 CPU-seconds per million points). The default,
    ``None``, compresses unless the server is on this machine (``localhost``
    or a loopback address in ``url``): there no network is saved, and every
    CPU-second spent compressing is taken from the server sharing the
    machine, which reads plain and gzipped bodies at the same speed (see
    BENCHMARKS.md).

    Every distinct tag combination is a series, and InfluxDB's cost per point
    grows with the number of series (with ``node_id`` and ``peer_id`` as tags,
    about one per point: see BENCHMARKS.md). When the chosen tags make more
    than :data:`SERIES_WARNING_THRESHOLD` series in the frame, a
    :class:`SeriesCountWarning` gives the count.

    Nothing is lost silently. InfluxDB keeps one point per tag set and time:
    rows sharing both would overwrite each other. Such collisions are found
    before anything is sent; ``on_collision="raise"`` (the default) raises
    :class:`~dwcp_data.errors.DataError` with their count and first rows,
    ``"spread"`` moves colliding rows apart by whole nanoseconds (within a tag
    set, in time order, each to the first free nanosecond at or after its
    time) so that every row lands. Rows with a null time or a line break in a
    text value also raise before anything is sent.

    A busy server (HTTP 429, 503, or a full write cache) is waited for with
    exponential backoff for up to ``timeout`` seconds before giving up, and
    fewer batches are kept in flight while it catches up (halved on each busy
    answer, raised again by one after ``concurrency`` writes in a row succeed).

    Raises:
        dwcp_data.errors.DataError: colliding points (``on_collision="raise"``),
            a null time or a line break in a text value; nothing was sent.
        dwcp_data.errors.InfluxError: the server is unreachable, refuses the
            credentials, does not know the database or bucket, or rejects a batch.
    """
    conn = Connection(url, database, bucket, org, token, username, password, timeout, retries)
    if on_collision not in ("raise", "spread"):
        raise InvalidArgumentError(
            f"invalid argument `on_collision`: must be 'raise' or 'spread', got {on_collision!r}",
            param="on_collision",
        )
    positive_int(batch_size, "batch_size")
    positive_int(concurrency, "concurrency")
    if gzip not in (None, True, False):
        raise InvalidArgumentError(
            f"invalid argument `gzip`: must be True, False or None, got {gzip!r}", param="gzip"
        )
    compress = not conn.is_local if gzip is None else gzip
    gzip_level = _GZIP_LEVEL if compress else None
    polars_df = to_polars(df)
    tag_columns = _tag_columns(tags, polars_df.schema)
    _check_writable(polars_df, tag_columns)
    colliding = _collisions(polars_df, tag_columns)
    if colliding.len() and on_collision == "raise":
        raise DataError(
            f"{colliding.len():,} row(s) share their tags ({', '.join(tag_columns)}) and timestamp "
            f"with an earlier row, and InfluxDB would keep one point for each such set (first "
            f"colliding rows: {colliding.head(5).to_list()}); nothing was sent. Pass "
            "on_collision='spread' to move them apart by nanoseconds, or tag a column that tells them apart",
            column="timestamp",
            row=int(colliding[0]),
            rule="unique_point",
        )
    if colliding.len():
        polars_df = _spread(polars_df, tag_columns)
    not_stored = _not_stored(polars_df)
    if not_stored:
        warnings.warn(
            "InfluxDB cannot hold NaN, infinities or empty strings: these values will read back as "
            f"null (per column: {not_stored})",
            ValuesNotStoredWarning,
            stacklevel=2,
        )
    series = polars_df.select(pl.struct(_series_keys(tag_columns)).n_unique()).item() if tag_columns else 1
    if series > SERIES_WARNING_THRESHOLD:
        warnings.warn(
            f"the tags {tag_columns} make about {series:,} series in these {polars_df.height:,} rows; "
            "InfluxDB's cost per point grows with the series count: consider fewer tags",
            SeriesCountWarning,
            stacklevel=2,
        )
    frame, codes = to_core(polars_df)
    started = time.perf_counter()

    throttle = _Throttle(concurrency)
    failed = threading.Event()  # once a batch fails, no other is sent

    #: ``(offset, points stored)`` of batches the server stored only in part
    partial: list[tuple[int, int]] = []

    def send(offset: int) -> tuple[int, int] | None:
        batch = frame.slice(offset, batch_size)
        body, skipped = _core.encode_line_protocol(batch, codes, MEASUREMENT, tag_columns, gzip_level)
        if skipped < batch.height:
            with throttle:
                if failed.is_set():
                    return None
                try:
                    conn.write(body, throttle.busy, gzipped=compress)
                except BaseException as exc:
                    failed.set()
                    if isinstance(exc, InfluxError) and exc.kind == "partial" and exc.dropped is not None:
                        partial.append((offset, batch.height - skipped - exc.dropped))
                    raise
        return batch.height - skipped, skipped

    offsets = range(0, frame.height, batch_size)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(send, offset) for offset in offsets]
    sent = [
        (o, r) for o, f in zip(offsets, futures, strict=True) if f.exception() is None and (r := f.result())
    ]
    report = WriteReport(
        points=sum(p for _, (p, _) in sent) + sum(stored for _, stored in partial),
        skipped=sum(s for _, (_, s) in sent),
        batches=len(sent) + len(partial),
        seconds=time.perf_counter() - started,
        landed=_ranges([(o, min(o + batch_size, frame.height)) for o, _ in sent]),
        partly_landed=tuple((o, min(o + batch_size, frame.height), n) for o, n in sorted(partial)),
        not_stored=not_stored,
    )
    failures = [e for e in (f.exception() for f in futures) if e is not None]
    if not failures:
        return report
    first = failures[0]
    if isinstance(first, InfluxError):
        parts = "".join(
            f", and {n:,} of the {b - a:,} rows {a}-{b - 1} (the rest dropped)"
            for a, b, n in report.partly_landed
        )
        raise InfluxError(
            f"{first}; {report.batches} of {len(offsets)} batches ({report.points:,} points: rows "
            f"{', '.join(f'{a}-{b - 1}' for a, b in report.landed) or 'none'}{parts}) landed before the failure",
            url=first.url,
            kind=first.kind,
            report=report,
            dropped=first.dropped,
        ) from None
    raise first


def _ranges(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Adjacent ``[start, end)`` spans merged."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return tuple(merged)


def _tag_columns(tags: Sequence[str], schema: pl.Schema) -> list[str]:
    """``tags`` checked: distinct text columns of the frame."""
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise InvalidArgumentError(
            f"invalid argument `tags`: expected a sequence of column names, got {tags!r}", param="tags"
        )
    text = (pl.String, pl.Enum, pl.Categorical)
    for name in tags:
        if not isinstance(name, str) or not isinstance(schema.get(name), text):
            raise InvalidArgumentError(
                f"invalid argument `tags`: {name!r} is not a text column of the frame "
                f"(text columns: {[n for n, t in schema.items() if isinstance(t, text)]})",
                param="tags",
            )
    if len(set(tags)) != len(tags):
        raise InvalidArgumentError(f"invalid argument `tags`: {list(tags)} repeats a column", param="tags")
    return list(tags)


# --- exporting ------------------------------------------------------------------------------------


#: Points an automatically sized export window aims at: large enough that the
#: server's cost per query does not matter, small enough that two answers and
#: one frame stay a few hundred MB.
WINDOW_POINTS = 250_000
#: Count buckets over the range, at the most, when sizing windows from the data.
_MAX_BUCKETS = 5_000
_HOUR_NS = 3_600 * 10**9


@dataclass(frozen=True)
class _Window:
    """``[lo, hi)`` in ns, and the least number of points the server said it holds."""

    lo: int
    hi: int
    expected: int = 0


def _range_ns(start: datetime, end: datetime) -> tuple[int, int]:
    """``[start, end)`` in ns since the epoch; both within the times InfluxDB stores."""
    bounds = {}
    for param, value in (("start", start), ("end", end)):
        micros = epoch_us(utc_datetime(value, param))
        if not _NS_RANGE_US[0] <= micros <= _NS_RANGE_US[1]:
            raise InvalidArgumentError(
                f"invalid argument `{param}`: {value} is outside the times InfluxDB stores "
                "(1677-09-21 to 2262-04-11)",
                param=param,
            )
        bounds[param] = micros * 1000
    a, b = bounds["start"], bounds["end"]
    if a >= b:
        raise InvalidArgumentError("invalid argument `end`: must be after `start`", param="end")
    return a, b


def _fixed_windows(a: int, b: int, step: int) -> list[_Window]:
    return [_Window(lo, min(lo + step, b)) for lo in range(a, b, step)]


def _check_database(conn: Connection) -> None:
    result = _json_result(conn, conn.request("GET", "/query", {"q": "SHOW DATABASES"}))
    names = {row[0] for series in result.get("series", []) for row in series.get("values", [])}
    if conn.database not in names:
        raise InfluxError(
            f"{conn.base}: database not found: {conn.database!r}", url=conn.base, kind="database"
        )


def _json_result(conn: Connection, body: bytes) -> dict[str, Any]:
    """The first statement's result of an InfluxQL JSON answer, or ``InfluxError``."""
    try:
        result: dict[str, Any] = json.loads(body)["results"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        raise InfluxError(
            f"{conn.base}: not an InfluxQL answer: {body[:200]!r}", url=conn.base, kind="server"
        ) from None
    if "error" in result:
        raise InfluxError(f"{conn.base}: {result['error']}", url=conn.base, kind="server")
    return result


def _where(lo: int, hi: int) -> str:
    return f'FROM "{MEASUREMENT}" WHERE time >= {lo} AND time < {hi}'


def _counted_windows(conn: Connection, a: int, b: int, step: int, cuts: Sequence[int] = ()) -> list[_Window]:
    """``[a, b)`` cut into ``step``-long windows with the server's count of
    :data:`_COUNTED_FIELD` values in each. InfluxQL: windows from ``a``, one
    ``GROUP BY time`` query. Flux: windows aligned to the epoch (the first and
    last may be shorter) and cut at ``cuts`` (see :func:`_shard_group_cuts`),
    one query per stretch between cuts."""
    if conn.database is None:
        edges = sorted({a, b, *cuts, *range(a - a % step + step, b, step)})
        counts: dict[int, int] = {}
        for lo, hi in itertools.pairwise([a, *cuts, b]):
            query = _flux.count_query(conn.bucket or "", MEASUREMENT, _COUNTED_FIELD, lo, hi, step)
            for start, n in _flux_counts(conn, conn.flux(query)).items():
                at = edges[bisect.bisect_right(edges, max(start, lo)) - 1]
                counts[at] = counts.get(at, 0) + n
        return [_Window(lo, hi, counts.get(lo, 0)) for lo, hi in itertools.pairwise(edges)]
    count = _json_result(
        conn,
        conn.request(
            "GET",
            "/query",
            {
                "db": conn.database,
                "epoch": "ns",
                "q": f'SELECT COUNT("{_COUNTED_FIELD}") {_where(a, b)} '
                f"GROUP BY time({step}ns, {a % step}ns) fill(0)",
            },
        ),
    )
    counts = {int(row[0]): int(row[1] or 0) for s in count.get("series", []) for row in s.get("values", [])}
    return [_Window(w.lo, w.hi, counts.get(w.lo, 0)) for w in _fixed_windows(a, b, step)]


def _raise_error_table(conn: Connection, body: bytes) -> None:
    """Raise ``InfluxError`` (``kind="query"``) with the server's message if a
    Flux answer ends in an error table: the query failed after streaming began."""
    failed = _flux.error_table(body)
    if failed is not None:
        raise InfluxError(
            f"{conn.base}: the query failed part way: {_shortened(failed)}", url=conn.base, kind="query"
        )


def _flux_counts(conn: Connection, body: bytes) -> dict[int, int]:
    """A Flux count answer (see :func:`dwcp_data._flux.count_query`), or ``InfluxError``."""
    _raise_error_table(conn, body)
    try:
        return _flux.counts(body)
    except (KeyError, ValueError) as exc:
        raise InfluxError(
            f"{conn.base}: not an InfluxDB answer: {exc}", url=conn.base, kind="server"
        ) from None


def _shard_group_cuts(conn: Connection, a: int, b: int) -> list[int]:
    """Where a Flux query over ``[a, b)`` must stop: on InfluxDB 1.x, the
    shard-group boundaries inside it (1.x reads a field with the type of the
    first shard group and drops other types' values silently; see
    :mod:`dwcp_data._flux`). None on 2.x, which reads across shard groups.
    A server whose ``/ping`` names no version (a proxy in front) is cut at
    UTC midnights: that costs queries, never values."""
    if conn.bucket is None:
        return []
    try:
        version = conn.server_version()
    except InfluxError as exc:
        if exc.kind != "server":
            raise
        version = ""
    if version and not version.startswith("1."):
        return []
    return _flux.shard_group_edges(_shard_group_ns(conn) if version else _DAY_NS, a, b)


def _shard_group_ns(conn: Connection) -> int:
    """The shard-group duration of a 1.x bucket's retention policy (``db/rp``,
    or ``db`` and its default policy), asked with InfluxQL; a day, which is
    every 1.x duration for policies of 2 days to 6 months (and divides the
    7-day groups of longer ones), where the server does not say."""
    database, _, policy = (conn.bucket or "").partition("/")
    quoted = database.replace("\\", "\\\\").replace('"', '\\"')
    try:
        result = _json_result(
            conn, conn.request("GET", "/query", {"q": f'SHOW RETENTION POLICIES ON "{quoted}"'})
        )
        (series,) = result["series"]
        rows = [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
        (row,) = [r for r in rows if (r["name"] == policy if policy else r["default"])]
        return _flux.go_duration_ns(row["shardGroupDuration"])
    except (InfluxError, KeyError, TypeError, ValueError):
        return _DAY_NS


def _sized_windows(buckets: list[_Window], most: int, cuts: Sequence[int] = ()) -> list[_Window]:
    """Consecutive buckets merged into windows of at most ``most`` counted
    points (a bucket holding more stands alone), never across one of ``cuts``;
    together they still cover the whole range, so points without the counted
    field are read too."""
    windows: list[_Window] = []
    stops = set(cuts)
    for bucket in buckets:
        last = windows[-1] if windows else None
        total = last.expected + bucket.expected if last is not None else 0
        if last is not None and total <= most and bucket.lo not in stops:
            windows[-1] = _Window(last.lo, bucket.hi, total)
        else:
            windows.append(bucket)
    return windows


def _count_step(a: int, b: int) -> int:
    """The width of the count buckets that size an export's windows: an hour,
    or a divisor of a day (so that UTC midnights stay bucket edges), or whole
    days, whichever keeps ``[a, b)`` within :data:`_MAX_BUCKETS` buckets."""
    least = -(-(b - a) // _MAX_BUCKETS)
    for hours in (1, 2, 3, 4, 6, 8, 12, 24):
        if hours * _HOUR_NS >= least:
            return hours * _HOUR_NS
    return -(-least // _DAY_NS) * _DAY_NS


def _plan(conn: Connection, start: datetime, end: datetime, chunk: timedelta | str | None) -> list[_Window]:
    """The windows an export reads, each with the server's count of its
    points: ``chunk``-long windows, or (``None``) windows sized from counts.
    Over Flux on InfluxDB 1.x no window crosses a shard-group boundary."""
    a, b = _range_ns(start, end)
    if conn.database is not None:
        _check_database(conn)
        if chunk is not None:
            return _counted_windows(conn, a, b, duration_us(chunk, "chunk") * 1000)
        return _sized_windows(_counted_windows(conn, a, b, _count_step(a, b)), WINDOW_POINTS)
    step = duration_us(chunk, "chunk") * 1000 if chunk is not None else None
    cuts = _shard_group_cuts(conn, a, b)
    buckets = _counted_windows(conn, a, b, _count_step(a, b), cuts)
    if step is None:
        return _sized_windows(buckets, WINDOW_POINTS, cuts)
    edges = sorted({*range(a, b, step), *cuts, b})
    return _recounted(buckets, edges)


def _recounted(buckets: list[_Window], edges: list[int]) -> list[_Window]:
    """Windows between consecutive ``edges``, each expecting the points counted
    in the buckets wholly inside it: at least what the server must return."""
    los, his = [w.lo for w in buckets], [w.hi for w in buckets]
    totals = [0, *itertools.accumulate(w.expected for w in buckets)]
    windows = []
    for lo, hi in itertools.pairwise(edges):
        first, past = bisect.bisect_left(los, lo), bisect.bisect_right(his, hi)
        windows.append(_Window(lo, hi, totals[past] - totals[first] if past > first else 0))
    return windows


def _fetch(conn: Connection, window: _Window) -> bytes:
    """The raw answer for one window: InfluxQL ``SELECT *`` as chunked CSV, or Flux's annotated CSV."""
    if conn.database is not None:
        params = {"db": conn.database, "epoch": "ns", "chunked": "true", "chunk_size": "10000"}
        query = f"SELECT * {_where(window.lo, window.hi)}"
        return conn.request(
            "GET", "/query", {**params, "q": query}, headers={"Accept": "application/csv"}, expect_csv=True
        )
    query = _flux.data_query(conn.bucket or "", MEASUREMENT, window.lo, window.hi)
    return conn.flux(query)


def _parse(conn: Connection, body: bytes) -> pl.DataFrame:
    """A CSV answer in the schema; an answer that is not InfluxDB's CSV raises ``InfluxError``."""
    if conn.bucket is not None:
        _raise_error_table(conn, body)
    try:
        return from_core(_core.parse_influx_csv(body))
    except DataError as exc:
        raise InfluxError(
            f"{conn.base}: the answer is not InfluxDB CSV: {exc}", url=conn.base, kind="server"
        ) from None


def _complete(conn: Connection, window: _Window, frame: pl.DataFrame, depth: int = 0) -> list[pl.DataFrame]:
    """``frame`` if it holds the window's counted points; else the window read
    again in halves, each checked against its own count (an answer cut short
    by the server), raising if that does not help."""
    if frame.height >= window.expected:
        return [frame]
    if window.hi - window.lo <= 1 or depth >= 40:
        raise InfluxError(
            f"{conn.base}: the server returned {frame.height} of {window.expected} points for "
            f"[{window.lo}, {window.hi}) ns and smaller windows did not help",
            url=conn.base,
            kind="incomplete",
        )
    mid = (window.lo + window.hi) // 2
    parts = []
    for half in _counted_windows(conn, window.lo, window.hi, mid - window.lo):
        parts += _complete(conn, half, _parse(conn, _fetch(conn, half)), depth + 1)
    return parts


def _export_frames(conn: Connection, windows: list[_Window]) -> Iterator[pl.DataFrame]:
    """Every window's points in the schema, in time order; the next window's
    answer is fetched while the current one is parsed."""
    with ThreadPoolExecutor(max_workers=1) as prefetch:
        upcoming = iter(windows)
        pending = [prefetch.submit(_fetch, conn, w) for w in itertools.islice(upcoming, 1)]
        for window in windows:
            body = pending.pop().result()
            pending = [prefetch.submit(_fetch, conn, w) for w in itertools.islice(upcoming, 1)]
            frame = _parse(conn, body)
            del body
            for part in _complete(conn, window, frame):
                if part.height:
                    yield (
                        part if part["timestamp"].is_sorted() else part.sort("timestamp", maintain_order=True)
                    )


def export_metrics(
    *,
    url: str,
    start: datetime,
    end: datetime,
    database: str | None = None,
    bucket: str | None = None,
    org: str | None = None,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    chunk: timedelta | str | None = None,
    timeout: float = 120.0,
    retries: int = 4,
) -> pl.DataFrame:
    """Export ``compression_metrics`` points in ``[start, end)`` into the training schema.

    The range is read window by window. By default (``chunk=None``) windows
    are sized from the data: one query counts the points per hour (or
    per 1/5000 of the range, if longer) and consecutive hours are merged into
    windows of up to :data:`WINDOW_POINTS` points, so the number of queries
    follows the number of points, not the length of the range. ``chunk``
    (``"6h"``, a ``timedelta``) asks for fixed windows instead. Over Flux on
    InfluxDB 1.x no window spans two shard groups (1.8 drops the values of a
    field whose type differs between them, silently). The next
    window's answer is fetched while the current one is parsed. Stored names are mapped onto
    §2.1's (``bandwidth_mbps`` → ``available_bandwidth_mbps``, ``compressibility``
    → ``compressibility_score``); the result has exactly the schema's columns
    and types, with nulls for fields the server does not have (the design
    document's Go collector stores no ``node_id``, ``peer_id``,
    ``active_transfers`` or ``hde_throughput_mbps``).

    Never truncated silently: InfluxQL windows are read with ``chunked=true``
    (which ``max-row-limit`` does not cut); every window is checked against
    the server's count of ``rtt_ms`` values in it (a required field, so a
    lower bound of the points; the counts of every window come from the one
    query above); a short answer is fetched again in halves, and raises if
    that does not help. Flux answers are read only up to ``end`` (InfluxDB
    1.8's ``range`` includes its stop), and a query that fails part way (an
    in-band error table) raises with the server's message.

    Raises:
        dwcp_data.errors.InfluxError: unreachable server, refused credentials,
            unknown database or bucket (``kind="database"``), a failed query
            (``"query"``), or an incomplete answer.
    """
    conn = Connection(url, database, bucket, org, token, username, password, timeout, retries)
    frames = list(_export_frames(conn, _plan(conn, start, end, chunk)))
    if not frames:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat(frames, rechunk=True)


#: Days exported at once by :func:`export_to_folder`: measured on this
#: 2-core machine against influxd on the same machine (see BENCHMARKS.md).
EXPORT_CONCURRENCY = 2
_DAY_NS = 86_400 * 10**9
#: The layout of day shards; a shard written under another one is exported again.
_EXPORT_FORMAT = 1


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_to_folder` did.

    Attributes:
        folder: the folder of day shards.
        files: the day shards of ``[start, end)``, in time order.
        exported: the days (``YYYY-MM-DD``) read from the server.
        reused: the days whose shard already held what the server holds.
        rows: rows in ``files``.
        seconds: time taken.
    """

    folder: Path
    files: tuple[Path, ...]
    exported: tuple[str, ...]
    reused: tuple[str, ...]
    rows: int
    seconds: float


def _days(a: int, b: int) -> list[tuple[str, int, int]]:
    """``[a, b)`` ns cut at UTC midnights: ``(YYYY-MM-DD, lo, hi)`` per day."""
    days = []
    lo = a
    while lo < b:
        hi = min((lo // _DAY_NS + 1) * _DAY_NS, b)
        name = datetime.fromtimestamp(lo // 10**9, tz=timezone.utc).strftime("%Y-%m-%d")
        days.append((name, lo, hi))
        lo = hi
    return days


def _day_counts(conn: Connection, a: int, b: int) -> dict[int, int]:
    """The server's count of :data:`_COUNTED_FIELD` values per UTC day of
    ``[a, b)``, keyed by the day's midnight (ns), from one query (Flux on 1.x:
    one per shard group)."""
    days: dict[int, int] = {}
    if conn.database is None:
        windows = _counted_windows(conn, a, b, _DAY_NS, _shard_group_cuts(conn, a, b))
        for w in windows:
            days[w.lo - w.lo % _DAY_NS] = days.get(w.lo - w.lo % _DAY_NS, 0) + w.expected
        return days
    _check_database(conn)
    query = f'SELECT COUNT("{_COUNTED_FIELD}") {_where(a, b)} GROUP BY time({_DAY_NS}ns) fill(0)'
    answer = conn.request("GET", "/query", {"db": conn.database, "epoch": "ns", "q": query})
    result = _json_result(conn, answer)
    return {int(row[0]): int(row[1] or 0) for s in result.get("series", []) for row in s.get("values", [])}


def _export_key(conn: Connection) -> str:
    """What an exported shard depends on besides its time range and count:
    the server, the database or bucket, the measurement and the shard layout."""
    where = f"db={conn.database}" if conn.database is not None else f"bucket={conn.bucket},org={conn.org}"
    return f"{conn.base};{where};{MEASUREMENT};format={_EXPORT_FORMAT}"


def export_to_folder(
    out: str | os.PathLike[str],
    *,
    url: str,
    start: datetime,
    end: datetime,
    database: str | None = None,
    bucket: str | None = None,
    org: str | None = None,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    concurrency: int = EXPORT_CONCURRENCY,
    prune: bool = False,
    overwrite: bool = False,
    timeout: float = 120.0,
    retries: int = 4,
) -> ExportReport:
    """Export ``[start, end)`` into the folder ``out``, one Parquet shard per
    UTC day (``day-YYYY-MM-DD.parquet``; the first and last may cover part of
    their day), incrementally.

    One count query gives, per day, how many points the server holds (the
    values of ``rtt_ms``, as :func:`export_metrics` counts them). A day whose
    shard is already in ``out`` for the same range, server, database or bucket
    and count is reused; every other day is exported again (windows sized from
    counts, checked for completeness, as :func:`export_metrics` reads them).
    So a weekly run over a 30-day window reads only the new or changed days,
    and a run killed part way resumes from the days it finished: each shard is
    written atomically and recorded in the folder's manifest
    (``_dwcp_manifest.json``) as soon as it is done. A change that keeps a
    day's count (a point rewritten in place) is not seen.

    ``concurrency`` days are read at once (default :data:`EXPORT_CONCURRENCY`,
    measured on a 2-core machine with the server beside the client; a server
    with more cores serves more queries at once: raise it until the export
    stops getting faster, see BENCHMARKS.md). ``prune=True`` removes the
    folder's day shards outside ``[start, end)``. ``out`` must be empty, new
    or an export folder of ours; ``overwrite=True`` empties another folder first.

    Returns:
        An :class:`ExportReport`.

    Raises:
        dwcp_data.errors.InfluxError: as :func:`export_metrics`.
        dwcp_data.errors.InvalidArgumentError: a bad argument, or an ``out``
            that holds files dwcp-data did not write.
    """
    started = time.perf_counter()
    conn = Connection(url, database, bucket, org, token, username, password, timeout, retries)
    positive_int(concurrency, "concurrency")
    one_of(prune, (True, False), "prune")
    a, b = _range_ns(start, end)
    folder = export_folder(out, overwrite=overwrite)
    counts = _day_counts(conn, a, b)
    key = _export_key(conn)
    days = _days(a, b)
    recorded = folder.days()
    todo = [(name, lo, hi, counts.get(lo - lo % _DAY_NS, 0)) for name, lo, hi in days]
    reused = [
        name
        for name, lo, hi, count in todo
        if folder.holds(recorded.get(name), {"lo": lo, "hi": hi, "key": key, "count": count})
    ]
    missing = [t for t in todo if t[0] not in reused]

    def export_day(name: str, lo: int, hi: int, count: int) -> int:
        frames = _export_frames(conn, _day_windows(conn, lo, hi, count))
        return write_frames(frames, folder.path / folder.file(name), SCHEMA)[1]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = {pool.submit(export_day, *day): day for day in missing}
        try:
            for future in as_completed(futures):
                name, lo, hi, count = futures[future]
                rows = future.result()
                folder.record(name, {"lo": lo, "hi": hi, "key": key, "count": count, "rows": rows})
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    if prune:
        folder.prune({name for name, _, _ in days})
    entries = folder.days()
    return ExportReport(
        folder=folder.path,
        files=tuple(folder.path / folder.file(name) for name, _, _ in days),
        exported=tuple(name for name, *_ in missing),
        reused=tuple(reused),
        rows=sum(int(entries[name]["rows"]) for name, _, _ in days),
        seconds=time.perf_counter() - started,
    )


def _day_windows(conn: Connection, lo: int, hi: int, count: int) -> list[_Window]:
    """The windows a day ``[lo, hi)`` is read in: one, checked against the day's
    ``count``, when that fits a window; else windows sized from hourly counts."""
    if count <= WINDOW_POINTS:
        return [_Window(lo, hi, count)]
    return _sized_windows(_counted_windows(conn, lo, hi, _HOUR_NS), WINDOW_POINTS)


def export_to_file(out: str | os.PathLike[str], **kwargs: Any) -> Path:
    """:func:`export_metrics` streamed to a Parquet (or, by suffix, CSV) file, one window at a time.

    Takes :func:`export_metrics`' arguments. Memory holds one window; the file
    appears at ``out`` only when the export succeeded (temporary file, then
    rename): a failed export leaves no partial file.

    Returns:
        ``out``.
    """
    return _export_file(out, **kwargs)[0]


def _export_file(out: str | os.PathLike[str], **kwargs: Any) -> tuple[Path, int]:
    """:func:`export_to_file`, returning the path and the number of rows written."""
    start, end = kwargs.pop("start"), kwargs.pop("end")
    chunk = kwargs.pop("chunk", None)
    try:
        conn = Connection(**kwargs)
    except TypeError as exc:
        raise InvalidArgumentError(f"invalid arguments: {exc}", param="kwargs") from None
    return write_frames(_export_frames(conn, _plan(conn, start, end, chunk)), out, SCHEMA)
