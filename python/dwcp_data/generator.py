"""The synthetic data source: the design document's generator (§6.1), in Rust."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import polars as pl

from dwcp_data import _core
from dwcp_data._convert import duration_us, epoch_us, positive_int, utc_datetime
from dwcp_data._frames import from_core

__all__ = ["generate_synthetic", "iter_synthetic", "iter_synthetic_shards"]


def generate_synthetic(
    n: int = 100_000,
    seed: int = 42,
    *,
    end: datetime | None = None,
    freq: str | timedelta = "1h",
) -> pl.DataFrame:
    """Generate ``n`` rows of synthetic compression metrics in the training schema.

    Every distribution of the design document's generator (§6.1) is reproduced:
    link mix dc/metro/wan 0.4/0.3/0.3; RTT gamma(2, 0.3), gamma(3, 2.5),
    gamma(5, 8) ms and bandwidth U(1000, 10000), U(100, 1000), U(10, 200) Mbit/s
    by link type; jitter RTT × U(0.1, 0.3); loss exponential(0.001); sizes
    lognormal(15, 2) bytes; entropy beta(3, 2) and compressibility 1 - entropy;
    CPU beta(2, 5); memory U(2048, 16384) MiB; active transfers Poisson(3); the
    HDE, AMST and baseline formulas; class mix hde/amst/baseline 0.5/0.3/0.2.

    Deliberate differences from §6.1:

    * ``az`` is the region plus a letter (``us-east-1a``), as in the example
      row of §2.2, not a bare letter.
    * Timestamps are UTC, ascending, ``freq`` apart, the last one at ``end``
      (§6.1 counts back from ``datetime.now()`` in local time, newest first).
    * The four columns §6.1 leaves out follow one model. An engine's
      end-to-end time is its compression time + compressed bits / link rate
      (AMST at ``amst_transfer_rate_mbps``, HDE and baseline at
      ``available_bandwidth_mbps``) + ``rtt_ms``, times one lognormal(0, 0.1)
      noise factor per row. ``actual_transfer_time_ms`` is that time for
      ``current_compression``; ``actual_throughput_mbps`` is data bits / that
      time; ``total_cpu_overhead_ms`` is the chosen engine's compression time;
      ``hde_throughput_mbps`` is data bits / HDE's end-to-end time.

    Rows are drawn in parallel in fixed chunks, each from its own PCG stream
    derived from ``(seed, chunk index)``: the same ``(n, seed, end, freq)``
    gives a bit-identical frame whatever the number of threads
    (``RAYON_NUM_THREADS``).

    Args:
        n: number of rows, 0 to 1,000,000,000.
        seed: seed of the random streams, 0 to 2**64 - 1.
        end: timestamp of the last row (naive means UTC); default now,
            truncated to the second. Pass it for reproducible timestamps.
        freq: step between rows, e.g. ``"1h"``, ``"15m"``, ``"500ms"``, or a
            :class:`~datetime.timedelta`.

    Returns:
        A frame with the columns and dtypes of :data:`dwcp_data.SCHEMA`.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an argument is out of its
            domain; ``param`` names it.
        dwcp_data.errors.InsufficientMemoryError: the frame (about 275 bytes a
            row) would be larger than this machine's memory; use
            :func:`iter_synthetic` to generate it in shards.
    """
    end_us = epoch_us(utc_datetime(end, "end"))
    freq_us = duration_us(freq, "freq")
    return from_core(_core.generate_synthetic(n, seed, end_us, freq_us))


def iter_synthetic(
    n: int,
    *,
    shard_rows: int,
    seed: int = 42,
    end: datetime | None = None,
    freq: str | timedelta = "1h",
) -> Iterator[pl.DataFrame]:
    """The rows of :func:`generate_synthetic` in shards of ``shard_rows``, one at a time.

    Concatenated, the shards equal ``generate_synthetic(n, seed, end=end,
    freq=freq)`` bit for bit, whatever ``shard_rows`` is; only one shard is in
    memory at a time. ``end`` defaults to now (truncated to the second),
    fixed once for all shards.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an argument is out of its domain.
    """
    positive_int(shard_rows, "shard_rows")
    end_us = epoch_us(utc_datetime(end, "end"))
    freq_us = duration_us(freq, "freq")
    # Validate n and seed before the first shard is asked for.
    _core.generate_synthetic(n, seed, end_us, freq_us, 0, 0)
    return _rows(n, seed, end_us, freq_us, 0, n, shard_rows)


def _rows(
    n: int, seed: int, end_us: int, freq_us: int, start: int, stop: int, block: int
) -> Iterator[pl.DataFrame]:
    """Rows ``start .. stop`` of the ``n``-row data set, ``block`` rows at a time."""
    for first in range(start, stop, block):
        yield from_core(_core.generate_synthetic(n, seed, end_us, freq_us, first, min(block, stop - first)))


def iter_synthetic_shards(
    n: int,
    *,
    shard_rows: int,
    block_rows: int = 1_000_000,
    seed: int = 42,
    end: datetime | None = None,
    freq: str | timedelta = "1h",
) -> Iterator[Iterator[pl.DataFrame]]:
    """Shards of :func:`generate_synthetic`'s rows, each an iterator of blocks of at most ``block_rows``.

    For writing shards with bounded memory (:func:`dwcp_data.io.write_frames`):
    memory holds one block, whatever the shard size. The same data as
    :func:`iter_synthetic`, bit for bit.
    """
    positive_int(shard_rows, "shard_rows")
    positive_int(block_rows, "block_rows")
    end_us = epoch_us(utc_datetime(end, "end"))
    freq_us = duration_us(freq, "freq")
    _core.generate_synthetic(n, seed, end_us, freq_us, 0, 0)
    block = min(block_rows, shard_rows)
    return (
        _rows(n, seed, end_us, freq_us, s, min(s + shard_rows, n), block) for s in range(0, n, shard_rows)
    )
