"""Helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

#: A fixed end timestamp: generated frames are reproducible to the bit.
END = datetime(2025, 11, 14, 12, 34, 56, tzinfo=timezone.utc)


# Code defining status_kib(key): a /proc/self/status figure of the running process
# in KiB (VmRSS now, VmHWM its peak). Not ru_maxrss: Linux carries it over from
# the parent through fork and exec, so a child of a large pytest process would
# report the parent's peak.
STATUS_KIB = """
def status_kib(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))
"""


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout (fails the test on error)."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def raise_data_error(row: int) -> None:
    """Raise a ``DataError`` for ``row`` (importable by a spawned worker process)."""
    from dwcp_data.errors import DataError

    raise DataError(f"row {row} is bad", column="rtt_ms", row=row, rule="rtt_ms_range")


def shard_validation_facts(file: str) -> object:
    """One shard's strict validation facts (importable by a spawned worker process)."""
    import dwcp_data
    from dwcp_data._frames import to_core

    core_frame, enums = to_core(dwcp_data.read_training_data(file))
    now = datetime.fromtimestamp(1_700_000_000, timezone.utc)
    options = dwcp_data.ValidationOptions("strict", 100, now=now)
    return dwcp_data._core.validation_facts(core_frame, enums, options)


def hostile(n: int, seed: int) -> pl.DataFrame:
    """Synthetic rows with nulls, NaN and infinities-free heavy tails in the
    outlier columns, and nulls in integer and text columns."""
    import dwcp_data

    df = dwcp_data.generate_synthetic(n, seed=seed, end=END)
    row = pl.int_range(pl.len())
    return df.with_columns(
        pl.when(row % 17 == 3).then(None).otherwise(pl.col("rtt_ms")).alias("rtt_ms"),
        pl.when(row % 23 == 5)
        .then(float("nan"))
        .otherwise(pl.col("available_bandwidth_mbps"))
        .alias("available_bandwidth_mbps"),
        pl.when(row % 29 == 7).then(None).otherwise(pl.col("data_size_bytes")).alias("data_size_bytes"),
        pl.when(row % 31 == 11).then(None).otherwise(pl.col("active_transfers")).alias("active_transfers"),
        pl.when(row % 37 == 13).then(None).otherwise(pl.col("node_id")).alias("node_id"),
    )


def mixed_layout_shards(tmp_path: Path) -> Path:
    """The layouts a landing folder mixes: an older collector's shard without
    nullable numeric columns (``hde_throughput_mbps``, ``jitter_ms``,
    ``rtt_ms``) nor ``node_id`` (a ``by`` column), a zero-row shard, a shard
    whose every column is Null-typed, a CSV shard, and a shard whose
    timestamps are in nanoseconds."""
    df = hostile(5000, seed=47)
    folder = write_shards(
        tmp_path / "in",
        [
            df.slice(0, 1500).drop("hde_throughput_mbps", "jitter_ms", "rtt_ms", "node_id"),
            df.clear(),
            pl.DataFrame({c: pl.Series(c, [None] * 20, dtype=pl.Null) for c in df.columns}),
            df.slice(3000, 2000).with_columns(pl.col("timestamp").dt.cast_time_unit("ns")),
        ],
    )
    df.slice(1500, 1500).write_csv(folder / "shard-002b.csv")
    return folder


def write_shards(folder: Path, shards: list[pl.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, shard in enumerate(shards):
        shard.write_parquet(folder / f"shard-{i:03d}.parquet")
    return folder


def tricky_shards(tmp_path: Path) -> Path:
    """Unequal shards, an empty one, duplicates across shards (and within one),
    and a shard holding one link type only (the others absent from it)."""
    df = hostile(6000, seed=41)
    wan_only = df.filter(pl.col("link_type") == "wan").head(300)
    shards = [
        df.slice(0, 2500),
        df.clear(),
        pl.concat([df.slice(2500, 1000), df.slice(10, 40), df.slice(2600, 5)]),
        wan_only,
        pl.concat([df.slice(3500, 2500), df.slice(0, 3)]),
    ]
    return write_shards(tmp_path / "in", shards)


def tiny_shards(tmp_path: Path) -> Path:
    """A collector's landing folder: 600 shards of 0 to 12 hostile rows, with
    duplicates across them, an older layout (no ``jitter_ms``) for 150 shards
    in the middle, and empty shards."""
    df = hostile(3000, seed=53)
    df = pl.concat([df, df.slice(100, 40), df.slice(2000, 25)])
    cuts, shards, at = [0, 3, 12, 7, 1, 9, 5, 11], [], 0
    for k in range(600):
        n = cuts[k % len(cuts)]
        shard = df.slice(at, n)
        shards.append(shard.drop("jitter_ms") if 200 <= k < 350 else shard)
        at += n
    return write_shards(tmp_path / "tiny", shards)
