"""InfluxDB: write metrics as line protocol, export them into the training schema.

InfluxDB 1.x is spoken with ``database=`` (InfluxQL over ``/query``, CSV
responses, ``/write``); InfluxDB 2.x with ``bucket=`` and ``org=`` (Flux over
``/api/v2/query``, annotated CSV, ``/api/v2/write``). Line protocol is encoded
and responses are parsed in Rust; HTTP uses the standard library.

Tests run the 1.x path against a real ``influxd`` (Debian's 1.6.7). That server
has no Flux, so the 2.x path is tested against annotated-CSV responses served
by a small local HTTP server built from the published format.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from dwcp_data import _core
from dwcp_data._convert import duration_us, epoch_us, utc_datetime
from dwcp_data._frames import FrameLike, from_core, to_core, to_polars
from dwcp_data.errors import InfluxError, InvalidArgumentError
from dwcp_data.io import write_frames
from dwcp_data.schema import SCHEMA

__all__ = [
    "MEASUREMENT",
    "TAGS",
    "Connection",
    "WriteReport",
    "export_metrics",
    "export_to_file",
    "write_metrics",
]

#: The measurement metrics are written to and read from.
MEASUREMENT = "compression_metrics"
#: The columns :func:`write_metrics` writes as tags by default: the design
#: document's five and the node ids.
TAGS: tuple[str, ...] = tuple(_core.INFLUX_TAG_COLUMNS)
_RETRY_STATUS = {429, 500, 502, 503, 504}
#: Longest single wait between two attempts, in seconds.
_MAX_BACKOFF = 10.0
#: The field counted to check an export window is complete: a required field, so
#: its count is (nearly) the number of points, at a fraction of ``COUNT(*)``'s cost.
_COUNTED_FIELD = "rtt_ms"


@dataclass(frozen=True)
class Connection:
    """Where and how to reach a server.

    Exactly one of ``database`` (InfluxDB 1.x) and ``bucket`` (2.x, with
    ``org``) is given. Credentials: ``token`` (2.x, or 1.x ``username:password``
    tokens), or ``username`` and ``password`` (1.x basic auth).

    ``timeout`` bounds each request and, separately, how long a busy server
    (429, 503, or InfluxDB's "cache-max-memory-size exceeded") is waited for;
    ``retries`` counts the retries after connection errors and other 5xx.
    """

    url: str
    database: str | None = None
    bucket: str | None = None
    org: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 120.0
    retries: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"invalid argument `url`: expected http(s)://host:port, got {self.url!r}", param="url"
            )
        if (self.database is None) == (self.bucket is None):
            raise InvalidArgumentError(
                "give exactly one of `database` (InfluxDB 1.x) and `bucket` (2.x)", param="database"
            )
        if self.bucket is not None and not self.org:
            raise InvalidArgumentError(
                "invalid argument `org`: InfluxDB 2.x needs the organisation", param="org"
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

    def write(self, lines: bytes, on_busy: Callable[[], None] | None = None) -> None:
        """Post line protocol (ns times) to the database or bucket, gzip-compressed;
        ``on_busy`` is called whenever the server asks to slow down."""
        if self.database is not None:
            path, params = "/write", {"db": self.database, "precision": "ns"}
        else:
            path, params = (
                "/api/v2/write",
                {"org": self.org or "", "bucket": self.bucket or "", "precision": "ns"},
            )
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
        self.request("POST", path, params, gzip.compress(lines, compresslevel=1), headers, on_busy)

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        on_busy: Callable[[], None] | None = None,
    ) -> bytes:
        """One HTTP request with retries (exponential backoff and jitter) on
        connection errors, 429 and 5xx; the response body.

        A busy server is waited for up to ``timeout`` seconds in all, whatever
        ``retries`` says: it is asking the client to slow down, not failing.
        """
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        all_headers = {**self._headers(), **(headers or {})}
        attempt = waits = 0
        waited = 0.0
        while True:
            request = urllib.request.Request(url, data=body, method=method, headers=all_headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace").strip()
                if exc.code in (401, 403):
                    raise InfluxError(
                        f"{self.base}: not authorised ({exc.code}): check the credentials",
                        url=self.base,
                        kind="auth",
                    ) from None
                if exc.code == 404 and ("not found" in detail):
                    raise InfluxError(
                        f"{self.base}: {_error_text(detail)}", url=self.base, kind="database"
                    ) from None
                busy = exc.code in (429, 503) or "cache-max-memory-size exceeded" in detail
                if busy and waited >= self.timeout:
                    raise InfluxError(
                        f"{self.base}{path}: HTTP {exc.code}: the server stayed busy for "
                        f"{waited:.0f} s: {_error_text(detail)}",
                        url=self.base,
                        kind="server",
                    ) from None
                if not busy and (exc.code not in _RETRY_STATUS or attempt == self.retries):
                    raise InfluxError(
                        f"{self.base}{path}: HTTP {exc.code}: {_error_text(detail)}",
                        url=self.base,
                        kind="server",
                    ) from None
                if not busy:
                    attempt += 1
                elif on_busy is not None:
                    on_busy()
                delay = float(exc.headers.get("Retry-After") or 0)
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                ConnectionError,
                TimeoutError,
                OSError,
            ) as exc:
                if attempt == self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise InfluxError(
                        f"{self.base}: cannot reach the server after {attempt + 1} attempt(s): {reason}",
                        url=self.base,
                        kind="unreachable",
                    ) from None
                attempt += 1
                delay = 0.0
            delay = max(delay, min(_MAX_BACKOFF, 0.1 * 2**waits) * (1 + random.random()))
            waits += 1
            waited += delay
            time.sleep(delay)


def _error_text(detail: str) -> str:
    try:
        return str(json.loads(detail).get("error", detail))
    except (ValueError, AttributeError):
        return detail or "no detail"


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


@dataclass(frozen=True)
class WriteReport:
    """What :func:`write_metrics` sent: ``points`` written, ``skipped`` rows
    without any field, ``batches`` posted, ``seconds`` taken."""

    points: int
    skipped: int
    batches: int
    seconds: float


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
    batch_size: int = 5000,
    concurrency: int = 4,
    timeout: float = 120.0,
    retries: int = 4,
) -> WriteReport:
    """Write a training-schema frame to InfluxDB as measurement ``compression_metrics``.

    Tags: the ``tags`` columns, by default :data:`TAGS` (``region``, ``az``,
    ``link_type``, ``data_type``, ``current_compression``, ``node_id``,
    ``peer_id``); empty and null tags are left out. Every other column is a
    typed field: integers with the ``i`` suffix, floats, text as strings;
    nulls, NaN and infinities left out. ``timestamp`` is the point time in ns.
    Batches of ``batch_size`` rows are encoded in Rust, gzip-compressed and
    posted ``concurrency`` at a time. Used for backfills and to seed test
    servers. :func:`export_metrics` reads either layout back.

    Every distinct tag combination is a series, and InfluxDB's cost per point
    grows with the number of series: writing ``node_id`` and ``peer_id`` as
    fields (``tags=TAGS[:5]``) makes writes and exports several times faster
    on data with many node pairs (see BENCHMARKS.md). A point is identified by
    its time and tags: rows sharing both overwrite each other, so the fewer
    the tags, the more rows need timestamps of their own.

    A busy server (HTTP 429, 503, or a full write cache) is waited for with
    exponential backoff for up to ``timeout`` seconds before giving up, and
    fewer batches are kept in flight while it catches up (halved on each busy
    answer, raised again by one after ``concurrency`` writes in a row succeed).

    Raises:
        dwcp_data.errors.InfluxError: the server is unreachable, refuses the
            credentials, does not know the database or bucket, or rejects a batch.
    """
    conn = Connection(url, database, bucket, org, token, username, password, timeout, retries)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidArgumentError(
            f"invalid argument `batch_size`: must be a positive whole number, got {batch_size!r}",
            param="batch_size",
        )
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency <= 0:
        raise InvalidArgumentError(
            f"invalid argument `concurrency`: must be a positive whole number, got {concurrency!r}",
            param="concurrency",
        )
    polars_df = to_polars(df)
    tag_columns = _tag_columns(tags, polars_df.schema)
    frame, codes = to_core(polars_df)
    started = time.perf_counter()

    throttle = _Throttle(concurrency)

    def send(offset: int) -> tuple[int, int]:
        batch = frame.slice(offset, batch_size)
        body, skipped = _core.encode_line_protocol(batch, codes, tag_columns)
        if body:
            with throttle:
                conn.write(body, throttle.busy)
        return batch.height - skipped, skipped

    offsets = range(0, frame.height, batch_size)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(send, offsets))
    return WriteReport(
        points=sum(p for p, _ in results),
        skipped=sum(s for _, s in results),
        batches=len(offsets),
        seconds=time.perf_counter() - started,
    )


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


def _windows(start: datetime, end: datetime, chunk: timedelta | str) -> Iterator[tuple[int, int]]:
    """``[a, b)`` windows in ns covering ``[start, end)``."""
    a = epoch_us(utc_datetime(start, "start")) * 1000
    b = epoch_us(utc_datetime(end, "end")) * 1000
    if a >= b:
        raise InvalidArgumentError("invalid argument `end`: must be after `start`", param="end")
    step = duration_us(chunk, "chunk") * 1000
    for lo in range(a, b, step):
        yield lo, min(lo + step, b)


def _check_database(conn: Connection) -> None:
    body = conn.request("GET", "/query", {"q": "SHOW DATABASES"})
    result = json.loads(body)["results"][0]
    if "error" in result:
        raise InfluxError(f"{conn.base}: {result['error']}", url=conn.base, kind="server")
    names = {row[0] for series in result.get("series", []) for row in series.get("values", [])}
    if conn.database not in names:
        raise InfluxError(
            f"{conn.base}: database not found: {conn.database!r}", url=conn.base, kind="database"
        )


def _influxql_window(conn: Connection, lo: int, hi: int, depth: int = 0) -> list[pl.DataFrame]:
    """One window over InfluxQL, checked against the server's own point count;
    a short answer is fetched again in halves."""
    where = f'FROM "{MEASUREMENT}" WHERE time >= {lo} AND time < {hi}'
    params = {"db": conn.database or "", "epoch": "ns", "chunked": "true", "chunk_size": "10000"}
    body = conn.request(
        "GET", "/query", {**params, "q": f"SELECT * {where}"}, headers={"Accept": "application/csv"}
    )
    frame = from_core(_core.parse_influx_csv(body))
    counted = json.loads(
        conn.request(
            "GET", "/query", {"db": conn.database or "", "q": f'SELECT COUNT("{_COUNTED_FIELD}") {where}'}
        )
    )
    result = counted["results"][0]
    if "error" in result:
        raise InfluxError(f"{conn.base}: {result['error']}", url=conn.base, kind="server")
    expected = max(
        (
            max(v for v in row[1:] if v is not None)
            for s in result.get("series", [])
            for row in s.get("values", [])
        ),
        default=0,
    )
    if frame.height >= expected:
        return [frame]
    if hi - lo <= 1 or depth >= 40:
        raise InfluxError(
            f"{conn.base}: the server returned {frame.height} of {expected} points for "
            f"[{lo}, {hi}) ns and smaller windows did not help",
            url=conn.base,
            kind="incomplete",
        )
    mid = (lo + hi) // 2
    return _influxql_window(conn, lo, mid, depth + 1) + _influxql_window(conn, mid, hi, depth + 1)


def _flux_window(conn: Connection, lo: int, hi: int) -> list[pl.DataFrame]:
    flux = (
        f'from(bucket: "{conn.bucket}") |> range(start: time(v: {lo}), stop: time(v: {hi}))'
        f' |> filter(fn: (r) => r._measurement == "{MEASUREMENT}")'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        ' |> drop(columns: ["_start", "_stop", "_measurement"])'
    )
    body = json.dumps(
        {
            "query": flux,
            "type": "flux",
            "dialect": {"annotations": ["datatype", "group", "default"], "header": True},
        }
    )
    answer = conn.request(
        "POST",
        "/api/v2/query",
        {"org": conn.org or ""},
        body.encode(),
        {"Content-Type": "application/json", "Accept": "application/csv"},
    )
    return [from_core(_core.parse_influx_csv(answer))]


def _export_frames(
    conn: Connection, start: datetime, end: datetime, chunk: timedelta | str
) -> Iterator[pl.DataFrame]:
    windows = list(_windows(start, end, chunk))
    if conn.database is not None:
        _check_database(conn)
    for lo, hi in windows:
        parts = _influxql_window(conn, lo, hi) if conn.database is not None else _flux_window(conn, lo, hi)
        for part in parts:
            if part.height:
                yield part.sort("timestamp", maintain_order=True)


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
    chunk: timedelta | str = timedelta(hours=6),
    timeout: float = 120.0,
    retries: int = 4,
) -> pl.DataFrame:
    """Export ``compression_metrics`` points in ``[start, end)`` into the training schema.

    The range is read in ``chunk``-long windows. Stored names are mapped onto
    §2.1's (``bandwidth_mbps`` → ``available_bandwidth_mbps``, ``compressibility``
    → ``compressibility_score``); the result has exactly the schema's columns
    and types, with nulls for fields the server does not have (the design
    document's Go collector stores no ``node_id``, ``peer_id``,
    ``active_transfers`` or ``hde_throughput_mbps``).

    Never truncated silently: InfluxQL windows are read with ``chunked=true``
    (which ``max-row-limit`` does not cut) and checked against the server's
    count of ``rtt_ms`` values (a required field, so a lower bound of the
    points); a short answer is fetched again in smaller windows, and
    raises if that does not help.

    Raises:
        dwcp_data.errors.InfluxError: unreachable server, refused credentials,
            unknown database or bucket, a failed query, or an incomplete answer.
    """
    conn = Connection(url, database, bucket, org, token, username, password, timeout, retries)
    frames = list(_export_frames(conn, start, end, chunk))
    if not frames:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat(frames, rechunk=True)


def export_to_file(out: str | os.PathLike[str], **kwargs: Any) -> Path:
    """:func:`export_metrics` streamed to a Parquet file, one window at a time.

    Takes :func:`export_metrics`' arguments. Memory holds one window; the file
    appears at ``out`` only when the export succeeded (temporary file, then
    rename): a failed export leaves no partial file.

    Returns:
        ``out``.
    """
    start, end = kwargs.pop("start"), kwargs.pop("end")
    chunk = kwargs.pop("chunk", timedelta(hours=6))
    try:
        conn = Connection(**kwargs)
    except TypeError as exc:
        raise InvalidArgumentError(f"invalid arguments: {exc}", param="kwargs") from None
    return write_frames(_export_frames(conn, start, end, chunk), out, SCHEMA)[0]
