"""Writing metrics to InfluxDB as line protocol (encoded in Rust), batches
posted concurrently with a throttle that follows the server's pace."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from dwcp_data import _core
from dwcp_data._convert import one_of, positive_int
from dwcp_data._frames import FrameLike, to_core, to_polars
from dwcp_data._keywords import Unpack, spelled_out
from dwcp_data.errors import DataError, InfluxError, InvalidArgumentError
from dwcp_data.influx.transport import Connection, ConnectionSettings

__all__ = [
    "MEASUREMENT",
    "SERIES_WARNING_THRESHOLD",
    "TAGS",
    "SeriesCountWarning",
    "ValuesNotStoredWarning",
    "WriteReport",
    "write_metrics",
]

#: The measurement metrics are written to and read from.
MEASUREMENT = "compression_metrics"
#: The columns :func:`write_metrics` writes as tags by default: the five the
#: design document's Go collector (§3.1) tags.
TAGS: tuple[str, ...] = tuple(_core.INFLUX_TAG_COLUMNS)
#: More series than this in one written frame draws a :class:`SeriesCountWarning`.
SERIES_WARNING_THRESHOLD = 100_000
#: gzip level of posted line protocol: the fastest (the server reads any level).
_GZIP_LEVEL = 1


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


#: The longest key InfluxDB stores: a point's series key (measurement and
#: tags, escaped), ``#!~#`` and its longest field key (measured on a real
#: server: one byte more and the point is refused).
MAX_SERIES_KEY_BYTES: int = _core.MAX_SERIES_KEY_BYTES


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


@spelled_out(ConnectionSettings, Connection)
def write_metrics(
    df: FrameLike,
    *,
    connection: Connection | None = None,
    url: str | None = None,
    tags: Sequence[str] = TAGS,
    on_collision: Literal["raise", "spread"] = "raise",
    batch_size: int = 5000,
    concurrency: int = 4,
    gzip: bool | None = None,
    **settings: Unpack[ConnectionSettings],
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

    Where the server is and how to sign in: ``connection``, an
    :class:`~dwcp_data.influx.Connection` (e.g. ``Connection.from_env()``),
    or the same settings as keywords (``url``, ``token``, ..., TLS ``verify``
    and ``ca_bundle``), not both. No redirect is followed.

    Raises:
        dwcp_data.errors.DataError: colliding points (``on_collision="raise"``),
            a null time or a line break in a text value; nothing was sent.
        dwcp_data.errors.InfluxError: the server is unreachable, refuses the
            credentials, does not know the database or bucket, or rejects a batch.
    """
    conn = Connection.of(connection, url, settings)
    one_of(on_collision, ("raise", "spread"), "on_collision")
    positive_int(batch_size, "batch_size")
    positive_int(concurrency, "concurrency")
    one_of(gzip, (None, True, False), "gzip")
    compress = not conn.is_local if gzip is None else gzip
    gzip_level = _GZIP_LEVEL if compress else None
    frame, codes, tag_columns, not_stored = _points(to_polars(df), tags, on_collision)
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
    if failures:
        raise _with_what_landed(failures[0], report, len(offsets))
    return report


def _points(
    df: pl.DataFrame, tags: Sequence[str], on_collision: Literal["raise", "spread"]
) -> tuple[pl.DataFrame, list[str], list[str], dict[str, int]]:
    """``df`` checked and ready to encode, before anything is sent: every row
    writable (judged by the Rust encoder), collisions raised or spread, and
    the values InfluxDB cannot hold or a series count it would struggle with
    warned about. The frame and its Enum columns sent as codes, the tag
    columns, and the values not stored per column."""
    tag_columns = _tag_columns(tags, df.schema)
    frame, codes = to_core(df)
    _core.check_line_protocol(frame, codes, MEASUREMENT, tag_columns)
    colliding = _collisions(df, tag_columns)
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
        df = _spread(df, tag_columns)
        frame, codes = to_core(df)
    not_stored = _not_stored(df)
    if not_stored:
        warnings.warn(
            "InfluxDB cannot hold NaN, infinities or empty strings: these values will read back as "
            f"null (per column: {not_stored})",
            ValuesNotStoredWarning,
            stacklevel=3,
        )
    series = df.select(pl.struct(_series_keys(tag_columns)).n_unique()).item() if tag_columns else 1
    if series > SERIES_WARNING_THRESHOLD:
        warnings.warn(
            f"the tags {tag_columns} make about {series:,} series in these {df.height:,} rows; "
            "InfluxDB's cost per point grows with the series count: consider fewer tags",
            SeriesCountWarning,
            stacklevel=3,
        )
    return frame, codes, tag_columns, not_stored


def _with_what_landed(first: BaseException, report: WriteReport, batches: int) -> BaseException:
    """The error that stopped a write, told with what landed before it (an
    ``InfluxError`` carries the report); another error as it was."""
    if not isinstance(first, InfluxError):
        return first
    parts = "".join(
        f", and {n:,} of the {b - a:,} rows {a}-{b - 1} (the rest dropped)"
        for a, b, n in report.partly_landed
    )
    landed = ", ".join(f"{a}-{b - 1}" for a, b in report.landed) or "none"
    return InfluxError(
        f"{first}; {report.batches} of {batches} batches ({report.points:,} points: rows "
        f"{landed}{parts}) landed before the failure",
        url=first.url,
        kind=first.kind,
        report=report,
        dropped=first.dropped,
    )


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
        raise InvalidArgumentError.of("tags", f"expected a sequence of column names, got {tags!r}")
    text = (pl.String, pl.Enum, pl.Categorical)
    for name in tags:
        if not isinstance(name, str) or not isinstance(schema.get(name), text):
            raise InvalidArgumentError.of(
                "tags",
                f"{name!r} is not a text column of the frame "
                f"(text columns: {[n for n, t in schema.items() if isinstance(t, text)]})",
            )
    if len(set(tags)) != len(tags):
        raise InvalidArgumentError.of("tags", f"{list(tags)} repeats a column")
    return list(tags)
