"""Exporting metrics from InfluxDB into the training schema: windows sized
from the server's own counts, each answer parsed in Rust and checked
complete; a folder of day shards kept up to date incrementally."""

from __future__ import annotations

import bisect
import itertools
import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from dwcp_data import _core
from dwcp_data._convert import duration_us, epoch_us, one_of, positive_int, utc_datetime
from dwcp_data._frames import from_core
from dwcp_data._keywords import Unpack, spelled_out
from dwcp_data._outputs import ExportFolder, export_folder
from dwcp_data.errors import DataError, InfluxError, InvalidArgumentError
from dwcp_data.influx import _flux
from dwcp_data.influx.transport import Connection, ConnectionSettings, _shortened
from dwcp_data.influx.write import MEASUREMENT
from dwcp_data.io import write_frames
from dwcp_data.schema import SCHEMA

#: The times InfluxDB stores: nanoseconds in a signed 64-bit integer
#: (1677-09-21 to 2262-04-11), in microseconds.
_NS_RANGE_US = (-(2**63) // 1000 + 1, (2**63 - 1) // 1000)

__all__ = [
    "EXPORT_CONCURRENCY",
    "WINDOW_POINTS",
    "ExportReport",
    "export_metrics",
    "export_to_file",
    "export_to_folder",
]

#: The field counted to check an export window is complete: a required field, so
#: its count is (nearly) the number of points, at a fraction of ``COUNT(*)``'s cost
#: (a point without it, a timed-out probe, is read but not counted).
_COUNTED_FIELD = "rtt_ms"
#: The fields whose counts key a day's reuse: every point the collector writes
#: has one of them (a timed-out probe has no ``rtt_ms``, but its transfer has a
#: size). Counting two fields costs about 2/30 of ``COUNT(*)`` (4.2 s per million
#: points on influxd 1.6.7, see BENCHMARKS.md).
_KEY_FIELDS = (_COUNTED_FIELD, "data_size_bytes")


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
            raise InvalidArgumentError.of(
                param, f"{value} is outside the times InfluxDB stores (1677-09-21 to 2262-04-11)"
            )
        bounds[param] = micros * 1000
    a, b = bounds["start"], bounds["end"]
    if a >= b:
        raise InvalidArgumentError.of("end", "must be after `start`")
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


def _counted_windows(
    conn: Connection,
    a: int,
    b: int,
    step: int,
    cuts: Sequence[int] = (),
    fields: Sequence[str] = (_COUNTED_FIELD,),
) -> list[_Window]:
    """``[a, b)`` cut into ``step``-long windows with the server's count of
    ``fields``' values in each (more than one field: Flux only). InfluxQL: windows from ``a``, one
    ``GROUP BY time`` query. Flux: windows aligned to the epoch (the first and
    last may be shorter) and cut at ``cuts`` (see :func:`_shard_group_cuts`),
    one query per stretch between cuts."""
    if conn.database is None:
        edges = sorted({a, b, *cuts, *range(a - a % step + step, b, step)})
        counts: dict[int, int] = {}
        for lo, hi in itertools.pairwise([a, *cuts, b]):
            query = _flux.count_query(conn.bucket or "", MEASUREMENT, fields, lo, hi, step)
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
    """A Flux count answer (see :func:`dwcp_data.influx._flux.count_query`), or ``InfluxError``."""
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
    :mod:`dwcp_data.influx._flux`). None on 2.x, which reads across shard groups.
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


@spelled_out(ConnectionSettings, Connection)
def export_metrics(
    *,
    connection: Connection | None = None,
    url: str | None = None,
    start: datetime,
    end: datetime,
    chunk: timedelta | str | None = None,
    **settings: Unpack[ConnectionSettings],
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

    Where the server is and how to sign in: ``connection``, an
    :class:`~dwcp_data.influx.Connection` (e.g. ``Connection.from_env()``),
    or the same settings as keywords (``url``, ``token``, ..., TLS ``verify``
    and ``ca_bundle``), not both. No redirect is followed.

    Raises:
        dwcp_data.errors.InfluxError: unreachable server, refused credentials,
            unknown database or bucket (``kind="database"``), a failed query
            (``"query"``), or an incomplete answer.
    """
    conn = Connection.of(connection, url, settings)
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


@dataclass(frozen=True)
class _DayCount:
    """What the server holds of one day: ``points``, its count of
    :data:`_COUNTED_FIELD` values (a lower bound of the points an export
    must return), and ``values``, its count of the :data:`_KEY_FIELDS`'
    values (which any point the collector adds to the day changes)."""

    points: int = 0
    values: int = 0

    def recorded(self) -> dict[str, int]:
        """As the export folder's manifest records it (the day's reuse key)."""
        return {"count": self.points, "values": self.values}


def _day_counts(conn: Connection, a: int, b: int) -> dict[int, _DayCount]:
    """The server's counts (see :class:`_DayCount`) per UTC day of ``[a, b)``,
    keyed by the day's midnight (ns): InfluxQL in one query; Flux in two, on
    1.x two per shard group."""
    if conn.database is None:
        cuts = _shard_group_cuts(conn, a, b)
        points: dict[int, int] = {}
        values: dict[int, int] = {}
        for fields, totals in (((_COUNTED_FIELD,), points), (_KEY_FIELDS, values)):
            for w in _counted_windows(conn, a, b, _DAY_NS, cuts, fields):
                totals[w.lo - w.lo % _DAY_NS] = totals.get(w.lo - w.lo % _DAY_NS, 0) + w.expected
        return {day: _DayCount(points.get(day, 0), n) for day, n in values.items()}
    _check_database(conn)
    counted = ", ".join(f'COUNT("{field}")' for field in _KEY_FIELDS)
    query = f"SELECT {counted} {_where(a, b)} GROUP BY time({_DAY_NS}ns) fill(0)"
    answer = conn.request("GET", "/query", {"db": conn.database, "epoch": "ns", "q": query})
    days: dict[int, _DayCount] = {}
    for series in _json_result(conn, answer).get("series", []):
        for row in series.get("values", []):
            counts = [int(v or 0) for v in row[1:]]
            days[int(row[0])] = _DayCount(counts[0], sum(counts))
    return days


def _export_key(conn: Connection) -> str:
    """What an exported shard depends on besides its time range and count:
    the server, the database or bucket, the measurement and the shard layout."""
    where = f"db={conn.database}" if conn.database is not None else f"bucket={conn.bucket},org={conn.org}"
    return f"{conn.base};{where};{MEASUREMENT};format={_EXPORT_FORMAT}"


@spelled_out(ConnectionSettings, Connection)
def export_to_folder(
    out: str | os.PathLike[str],
    *,
    connection: Connection | None = None,
    url: str | None = None,
    start: datetime,
    end: datetime,
    concurrency: int = EXPORT_CONCURRENCY,
    prune: bool = False,
    overwrite: bool = False,
    **settings: Unpack[ConnectionSettings],
) -> ExportReport:
    """Export ``[start, end)`` into the folder ``out``, one Parquet shard per
    UTC day (``day-YYYY-MM-DD.parquet``; the first and last may cover part of
    their day), incrementally.

    Count queries give, per day, how many values of ``rtt_ms`` the server
    holds (a lower bound of the points, which checks the day's export is
    complete, as :func:`export_metrics` checks it) and how many of ``rtt_ms``
    and ``data_size_bytes`` together (every point the collector writes has
    one: a timed-out probe has no ``rtt_ms`` but its transfer has a size). A
    day whose shard is already in ``out`` for the same range, server,
    database or bucket and both counts, with the size and rows recorded, is
    reused; every other day is exported again (windows sized from counts,
    checked for completeness, as :func:`export_metrics` reads them). So a
    weekly run over a 30-day window reads only the new or changed days, and a
    run killed part way resumes from the days it finished: each shard is
    written atomically and recorded in the folder's manifest
    (``_dwcp_manifest.json``) as soon as it is done. What a reuse can still
    miss: a point written late without either field, a point rewritten in
    place (same series and time, new values), and deletions and additions
    that leave a day's two counts as they were.

    Two exports into one folder take turns (the folder is locked while one
    runs; where the platform has no ``flock``, Windows, they must not overlap).
    A day entry of the manifest that does not name that day's shard is
    refused (:class:`~dwcp_data.errors.DataError`, rule ``manifest``): no file
    outside the folder is ever read or removed.

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
    conn = Connection.of(connection, url, settings)
    positive_int(concurrency, "concurrency")
    one_of(prune, (True, False), "prune")
    a, b = _range_ns(start, end)
    with export_folder(out, overwrite=overwrite) as folder:
        return _export_days(conn, folder, a, b, concurrency, prune, started)


def _export_days(
    conn: Connection, folder: ExportFolder, a: int, b: int, concurrency: int, prune: bool, started: float
) -> ExportReport:
    """:func:`export_to_folder`'s work, in the locked ``folder``."""
    counts = _day_counts(conn, a, b)
    key = _export_key(conn)
    days = _days(a, b)
    recorded = folder.days()
    todo = [(name, lo, hi, counts.get(lo - lo % _DAY_NS, _DayCount())) for name, lo, hi in days]
    reused = [
        name
        for name, lo, hi, count in todo
        if folder.holds(recorded.get(name), {"lo": lo, "hi": hi, "key": key, **count.recorded()})
    ]
    missing = [t for t in todo if t[0] not in reused]

    def export_day(name: str, lo: int, hi: int, count: _DayCount) -> int:
        frames = _export_frames(conn, _day_windows(conn, lo, hi, count.points))
        return write_frames(frames, folder.path / folder.file(name), SCHEMA)[1]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = {pool.submit(export_day, *day): day for day in missing}
        try:
            for future in as_completed(futures):
                name, lo, hi, count = futures[future]
                rows = future.result()
                folder.record(name, {"lo": lo, "hi": hi, "key": key, **count.recorded(), "rows": rows})
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
    start, end = kwargs.pop("start"), kwargs.pop("end")
    chunk = kwargs.pop("chunk", None)
    try:
        conn = Connection.of(kwargs.pop("connection", None), kwargs.pop("url", None), kwargs)
    except TypeError as exc:
        raise InvalidArgumentError(f"invalid arguments: {exc}", param="kwargs") from None
    return write_frames(_export_frames(conn, _plan(conn, start, end, chunk)), out, SCHEMA)[0]
