"""Reference implementations of the design document's generator (§6.1).

Used by the distribution-parity tests and by ``benchmarks/bench_generate.py``.

* :func:`pandas_generate` is §6.1 as the document writes it (list
  comprehensions, ``np.random`` global state), plus the project's documented
  differences so that its output has the same columns.
* :func:`numpy_polars_generate` is the same model written idiomatically:
  vectorised numpy draws from a ``Generator``, assembled by Polars.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import polars as pl

REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]
#: §2.1 column order.
COLUMN_ORDER = [
    "timestamp",
    "region",
    "az",
    "link_type",
    "node_id",
    "peer_id",
    "data_size_bytes",
    "data_type",
    "entropy",
    "compressibility_score",
    "rtt_ms",
    "jitter_ms",
    "available_bandwidth_mbps",
    "packet_loss_rate",
    "cpu_usage",
    "memory_available_mb",
    "active_transfers",
    "hde_compression_ratio",
    "hde_delta_hit_rate",
    "hde_compression_time_ms",
    "hde_compressed_size_bytes",
    "hde_throughput_mbps",
    "amst_streams",
    "amst_transfer_rate_mbps",
    "amst_compression_time_ms",
    "amst_compressed_size_bytes",
    "baseline_compression_ratio",
    "baseline_compression_time_ms",
    "baseline_compressed_size_bytes",
    "current_compression",
    "actual_transfer_time_ms",
    "actual_throughput_mbps",
    "total_cpu_overhead_ms",
]
NOISE_SIGMA = 0.1


def _end_to_end_ms(comp_time, comp_bytes, rate_mbps, rtt):
    return comp_time + comp_bytes * 8 / (rate_mbps * 1000) + rtt


def _add_outcomes(data: dict, noise: np.ndarray) -> None:
    """The four columns §6.1 leaves out, from the project's transfer-time model."""
    size = np.asarray(data["data_size_bytes"], dtype=float)
    rtt = np.asarray(data["rtt_ms"])
    bw = np.asarray(data["available_bandwidth_mbps"])
    hde = _end_to_end_ms(data["hde_compression_time_ms"], data["hde_compressed_size_bytes"], bw, rtt) * noise
    amst = (
        _end_to_end_ms(
            data["amst_compression_time_ms"],
            data["amst_compressed_size_bytes"],
            data["amst_transfer_rate_mbps"],
            rtt,
        )
        * noise
    )
    base = (
        _end_to_end_ms(data["baseline_compression_time_ms"], data["baseline_compressed_size_bytes"], bw, rtt)
        * noise
    )
    chosen = np.asarray(data["current_compression"])
    time = np.where(chosen == "hde", hde, np.where(chosen == "amst", amst, base))
    cpu = np.where(
        chosen == "hde",
        data["hde_compression_time_ms"],
        np.where(chosen == "amst", data["amst_compression_time_ms"], data["baseline_compression_time_ms"]),
    )
    data["hde_throughput_mbps"] = size * 8 / (hde * 1000)
    data["actual_transfer_time_ms"] = time
    data["actual_throughput_mbps"] = size * 8 / (time * 1000)
    data["total_cpu_overhead_ms"] = cpu


def per_link(link_types, dc, metro, wan) -> list:
    """Per row, a draw of ``dc()``, ``metro()`` or ``wan()`` by its link type, in row order
    (the document's ``x if lt == "dc" else y if lt == "metro" else z for lt in link_types``)."""
    return [dc() if lt == "dc" else metro() if lt == "metro" else wan() for lt in link_types]


def pandas_generate(n_samples: int = 100_000, seed: int = 42) -> pd.DataFrame:
    """§6.1 as the document writes it (plus the documented differences)."""
    np.random.seed(seed)
    link_types = np.random.choice(["dc", "metro", "wan"], n_samples, p=[0.4, 0.3, 0.3])
    end = datetime.now(timezone.utc).replace(microsecond=0)
    region = np.random.choice(REGIONS, n_samples)
    data = {
        "timestamp": [end - timedelta(hours=i) for i in range(n_samples)],
        "region": region,
        "az": np.char.add(region, np.random.choice(["a", "b", "c"], n_samples)),
        "link_type": link_types,
        "node_id": [f"node-{np.random.randint(1000)}" for _ in range(n_samples)],
        "peer_id": [f"peer-{np.random.randint(1000)}" for _ in range(n_samples)],
    }
    data["rtt_ms"] = per_link(
        link_types,
        lambda: np.random.gamma(2, 0.3),
        lambda: np.random.gamma(3, 2.5),
        lambda: np.random.gamma(5, 8),
    )
    data["jitter_ms"] = data["rtt_ms"] * np.random.uniform(0.1, 0.3, n_samples)
    data["available_bandwidth_mbps"] = per_link(
        link_types,
        lambda: np.random.uniform(1000, 10000),
        lambda: np.random.uniform(100, 1000),
        lambda: np.random.uniform(10, 200),
    )
    data["packet_loss_rate"] = np.random.exponential(0.001, n_samples)
    data["data_size_bytes"] = np.random.lognormal(15, 2, n_samples).astype(int)
    data["data_type"] = np.random.choice(["vm_memory", "vm_disk", "database"], n_samples)
    data["entropy"] = np.random.beta(3, 2, n_samples)
    data["compressibility_score"] = 1 - data["entropy"]
    data["cpu_usage"] = np.random.beta(2, 5, n_samples)
    data["memory_available_mb"] = np.random.uniform(2048, 16384, n_samples).astype(int)
    data["active_transfers"] = np.random.poisson(3, n_samples)
    data["hde_compression_ratio"] = 1 + data["compressibility_score"] * np.random.uniform(5, 40, n_samples)
    data["hde_delta_hit_rate"] = data["compressibility_score"] * np.random.uniform(60, 95, n_samples)
    data["hde_compression_time_ms"] = data["data_size_bytes"] / 1e6 * np.random.uniform(10, 30, n_samples)
    data["hde_compressed_size_bytes"] = (data["data_size_bytes"] / data["hde_compression_ratio"]).astype(int)
    data["amst_streams"] = np.random.choice([2, 4, 8], n_samples)
    data["amst_transfer_rate_mbps"] = data["available_bandwidth_mbps"] * np.random.uniform(
        0.7, 0.95, n_samples
    )
    data["amst_compression_time_ms"] = data["data_size_bytes"] / 1e6 * np.random.uniform(5, 15, n_samples)
    data["amst_compressed_size_bytes"] = (
        data["data_size_bytes"] / np.random.uniform(1.5, 5, n_samples)
    ).astype(int)
    data["baseline_compression_ratio"] = np.random.uniform(2, 8, n_samples)
    data["baseline_compression_time_ms"] = data["data_size_bytes"] / 1e6 * np.random.uniform(3, 10, n_samples)
    data["baseline_compressed_size_bytes"] = (
        data["data_size_bytes"] / data["baseline_compression_ratio"]
    ).astype(int)
    data["current_compression"] = np.random.choice(["hde", "amst", "baseline"], n_samples, p=[0.5, 0.3, 0.2])
    _add_outcomes(data, np.random.lognormal(0, NOISE_SIGMA, n_samples))
    return pd.DataFrame(data)


def numpy_polars_generate(n: int = 100_000, seed: int = 42) -> pl.DataFrame:
    """The same model, vectorised with numpy's ``Generator`` and assembled by Polars."""
    rng = np.random.default_rng(seed)
    link = rng.choice(3, n, p=[0.4, 0.3, 0.3]).astype(np.uint8)
    region = rng.integers(0, 3, n)
    zone = rng.integers(0, 3, n)
    shape = np.array([2.0, 3.0, 5.0])[link]
    scale = np.array([0.3, 2.5, 8.0])[link]
    rtt = rng.gamma(shape, scale)
    low = np.array([1000.0, 100.0, 10.0])[link]
    high = np.array([10000.0, 1000.0, 200.0])[link]
    bw = rng.uniform(low, high)
    size = rng.lognormal(15, 2, n).astype(np.int64)
    mb = size / 1e6
    entropy = rng.beta(3, 2, n)
    comp = 1 - entropy
    hde_ratio = 1 + comp * rng.uniform(5, 40, n)
    base_ratio = rng.uniform(2, 8, n)
    data = {
        "region_idx": region,
        "az_idx": region * 3 + zone,
        "link_type": link,
        "node_id": rng.integers(0, 1000, n),
        "peer_id": rng.integers(0, 1000, n),
        "data_size_bytes": size,
        "data_type": rng.integers(0, 3, n).astype(np.uint8),
        "entropy": entropy,
        "compressibility_score": comp,
        "rtt_ms": rtt,
        "jitter_ms": rtt * rng.uniform(0.1, 0.3, n),
        "available_bandwidth_mbps": bw,
        "packet_loss_rate": rng.exponential(0.001, n),
        "cpu_usage": rng.beta(2, 5, n),
        "memory_available_mb": rng.uniform(2048, 16384, n).astype(np.int64),
        "active_transfers": rng.poisson(3, n),
        "hde_compression_ratio": hde_ratio,
        "hde_delta_hit_rate": comp * rng.uniform(60, 95, n),
        "hde_compression_time_ms": mb * rng.uniform(10, 30, n),
        "hde_compressed_size_bytes": (size / hde_ratio).astype(np.int64),
        "amst_streams": rng.choice(np.array([2, 4, 8]), n),
        "amst_transfer_rate_mbps": bw * rng.uniform(0.7, 0.95, n),
        "amst_compression_time_ms": mb * rng.uniform(5, 15, n),
        "amst_compressed_size_bytes": (size / rng.uniform(1.5, 5, n)).astype(np.int64),
        "baseline_compression_ratio": base_ratio,
        "baseline_compression_time_ms": mb * rng.uniform(3, 10, n),
        "baseline_compressed_size_bytes": (size / base_ratio).astype(np.int64),
        "current_compression": np.array(["hde", "amst", "baseline"])[rng.choice(3, n, p=[0.5, 0.3, 0.2])],
    }
    _add_outcomes(data, rng.lognormal(0, NOISE_SIGMA, n))
    end = datetime.now(timezone.utc).replace(microsecond=0)
    regions = pl.Series(REGIONS)
    zones = pl.Series([r + z for r in REGIONS for z in "abc"])
    return (
        pl.DataFrame(data)
        .with_columns(
            pl.datetime_range(
                end - timedelta(hours=n - 1), end, "1h", time_unit="us", time_zone="UTC", eager=True
            ).alias("timestamp"),
            pl.lit(regions).gather(pl.col("region_idx")).alias("region"),
            pl.lit(zones).gather(pl.col("az_idx")).alias("az"),
            _enum_from_codes(pl.col("link_type"), ["dc", "metro", "wan"]),
            pl.format("node-{}", pl.col("node_id")).alias("node_id"),
            pl.format("peer-{}", pl.col("peer_id")).alias("peer_id"),
            _enum_from_codes(pl.col("data_type"), ["vm_memory", "vm_disk", "database"]),
            pl.col("current_compression").cast(pl.Enum(["hde", "amst", "baseline"])),
        )
        .select(COLUMN_ORDER)
    )


def _enum_from_codes(codes: pl.Expr, categories: list[str]) -> pl.Expr:
    return (
        pl.lit(pl.Series(categories, dtype=pl.Enum(categories))).gather(codes).alias(codes.meta.output_name())
    )


OUTLIER_COLUMNS = ["rtt_ms", "available_bandwidth_mbps", "data_size_bytes"]


def pandas_clean(df: pd.DataFrame) -> pd.DataFrame:
    """§5.2 as the document writes it, with the imputation doing what it meant.

    (§5.2's ``df[col].fillna(..., inplace=True)`` is chained assignment: on
    pandas >= 3 it fills nothing.)
    """
    df = df.drop_duplicates()
    for col in OUTLIER_COLUMNS:
        q1 = df[col].quantile(0.25)
        q3 = df[col].quantile(0.75)
        iqr = q3 - q1
        lower = q1 - 1.5 * iqr
        upper = q3 + 1.5 * iqr
        df = df[(df[col] >= lower) & (df[col] <= upper)]
    for col in df.select_dtypes(include=[np.number]).columns:
        if df[col].isnull().sum() > 0:
            df[col] = df[col].fillna(df[col].median())
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


def polars_clean(df: pl.DataFrame) -> pl.DataFrame:
    """The same cleaning as idiomatic Polars: ``unique``, ``quantile``, ``filter``, ``fill_null``."""
    df = df.unique(maintain_order=True)
    for col in OUTLIER_COLUMNS:
        q1, q3 = df.select(
            pl.col(col).quantile(0.25, interpolation="linear").alias("q1"),
            pl.col(col).quantile(0.75, interpolation="linear").alias("q3"),
        ).row(0)
        iqr = q3 - q1
        df = df.filter(pl.col(col).is_between(q1 - 1.5 * iqr, q3 + 1.5 * iqr) | pl.col(col).is_null())
    with_nulls = [c for c, t in df.schema.items() if t.is_numeric() and df[c].null_count()]
    return df.with_columns(pl.col(c).fill_null(pl.col(c).median()) for c in with_nulls)
