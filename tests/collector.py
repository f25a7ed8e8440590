"""Points as the design document's Go collector (§3.1) writes them, encoded by the
official ``influxdb-client`` package (not by dwcp_data), posted to a real influxd.

``CollectCompressionMetrics`` builds each point with five ``AddTag`` calls and
``AddField`` calls under the collector's own names (``bandwidth_mbps``,
``compressibility``), Go integers as integer fields, and never writes
``node_id``, ``peer_id``, ``active_transfers`` or ``hde_throughput_mbps``.
"""

from __future__ import annotations

import urllib.request

import polars as pl
from influxdb_client import Point, WritePrecision

#: The five ``AddTag`` calls, in order.
TAGS = ("region", "az", "link_type", "data_type", "current_compression")
#: The ``AddField`` calls, in order: (the collector's field name, the schema column it carries).
FIELDS = (
    ("data_size_bytes", "data_size_bytes"),
    ("rtt_ms", "rtt_ms"),
    ("jitter_ms", "jitter_ms"),
    ("bandwidth_mbps", "available_bandwidth_mbps"),
    ("packet_loss_rate", "packet_loss_rate"),
    ("cpu_usage", "cpu_usage"),
    ("memory_available_mb", "memory_available_mb"),
    ("entropy", "entropy"),
    ("compressibility", "compressibility_score"),
    ("hde_compression_ratio", "hde_compression_ratio"),
    ("hde_delta_hit_rate", "hde_delta_hit_rate"),
    ("hde_compression_time_ms", "hde_compression_time_ms"),
    ("hde_compressed_size_bytes", "hde_compressed_size_bytes"),
    ("amst_streams", "amst_streams"),
    ("amst_transfer_rate_mbps", "amst_transfer_rate_mbps"),
    ("amst_compression_time_ms", "amst_compression_time_ms"),
    ("amst_compressed_size_bytes", "amst_compressed_size_bytes"),
    ("baseline_compression_ratio", "baseline_compression_ratio"),
    ("baseline_compression_time_ms", "baseline_compression_time_ms"),
    ("baseline_compressed_size_bytes", "baseline_compressed_size_bytes"),
    ("actual_transfer_time_ms", "actual_transfer_time_ms"),
    ("actual_throughput_mbps", "actual_throughput_mbps"),
    ("total_cpu_overhead_ms", "total_cpu_overhead_ms"),
)
#: Schema columns the collector never writes.
NEVER_WRITTEN = ("node_id", "peer_id", "active_transfers", "hde_throughput_mbps")


def collector_lines(df: pl.DataFrame) -> list[str]:
    """Each row of a schema frame as the collector's point, in line protocol."""
    text = df.with_columns(pl.col(pl.Enum).cast(pl.String), pl.col("timestamp").dt.epoch("ns").alias("_ns"))
    lines = []
    for row in text.iter_rows(named=True):
        point = Point("compression_metrics")
        for tag in TAGS:
            point = point.tag(tag, row[tag])
        for field, column in FIELDS:
            point = point.field(field, row[column])
        lines.append(point.time(row["_ns"], WritePrecision.NS).to_line_protocol())
    return lines


def post_lines(url: str, database: str, lines: list[str], batch: int = 5000) -> None:
    """Post line protocol to influxd 1.x's ``/write`` (the 2.x ``/api/v2/write`` it lacks)."""
    for i in range(0, len(lines), batch):
        body = "\n".join(lines[i : i + batch]).encode()
        request = urllib.request.Request(f"{url}/write?db={database}&precision=ns", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert answer.status == 204


def as_collected(df: pl.DataFrame) -> pl.DataFrame:
    """What an export of the collector's points should give: ``df`` with the
    columns it never writes as nulls."""
    return df.with_columns(pl.lit(None, dtype=df.schema[c]).alias(c) for c in NEVER_WRITTEN)
