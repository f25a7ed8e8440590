"""The 33-column schema of §2.1."""

from __future__ import annotations

import polars as pl

import dwcp_data
from dwcp_data import _compat, errors

HEADER = (
    "timestamp,region,az,link_type,node_id,peer_id,data_size_bytes,data_type,entropy,compressibility_score,"
    "rtt_ms,jitter_ms,available_bandwidth_mbps,packet_loss_rate,cpu_usage,memory_available_mb,"
    "active_transfers,hde_compression_ratio,hde_delta_hit_rate,hde_compression_time_ms,"
    "hde_compressed_size_bytes,hde_throughput_mbps,amst_streams,amst_transfer_rate_mbps,"
    "amst_compression_time_ms,amst_compressed_size_bytes,baseline_compression_ratio,"
    "baseline_compression_time_ms,baseline_compressed_size_bytes,current_compression,"
    "actual_transfer_time_ms,actual_throughput_mbps,total_cpu_overhead_ms"
)


def test_schema_is_the_document_header_in_order():
    assert isinstance(dwcp_data.SCHEMA, pl.Schema)
    assert ",".join(dwcp_data.SCHEMA.names()) == HEADER


def test_dtypes():
    s = dwcp_data.SCHEMA
    assert s["timestamp"] == pl.Datetime("us", "UTC")
    assert s["link_type"] == pl.Enum(["dc", "metro", "wan"])
    assert s["data_type"] == pl.Enum(["vm_memory", "vm_disk", "database"])
    assert s["current_compression"] == pl.Enum(["hde", "amst", "baseline"])
    for name in ("region", "az", "node_id", "peer_id"):
        assert s[name] == pl.String
    ints = {
        "data_size_bytes",
        "memory_available_mb",
        "active_transfers",
        "hde_compressed_size_bytes",
        "amst_streams",
        "amst_compressed_size_bytes",
        "baseline_compressed_size_bytes",
    }
    for name, dtype in s.items():
        if name in ints:
            assert dtype == pl.Int64, name
        elif name not in {
            "timestamp",
            "link_type",
            "data_type",
            "current_compression",
            "region",
            "az",
            "node_id",
            "peer_id",
        }:
            assert dtype == pl.Float64, name


def test_required_and_optional_columns_follow_section_2_3():
    required = set(dwcp_data.REQUIRED_COLUMNS)
    assert {
        "timestamp",
        "link_type",
        "data_size_bytes",
        "rtt_ms",
        "available_bandwidth_mbps",
        "cpu_usage",
        "memory_available_mb",
        "hde_compression_ratio",
        "hde_delta_hit_rate",
        "amst_transfer_rate_mbps",
        "baseline_compression_ratio",
        "current_compression",
        "actual_transfer_time_ms",
    } <= required
    assert dwcp_data.OPTIONAL_COLUMNS == ("region", "az", "data_type", "entropy", "compressibility_score")
    assert not required & set(dwcp_data.OPTIONAL_COLUMNS)
    others = {c.name for c in dwcp_data.COLUMNS if c.role == "other"}
    assert others == {
        "node_id",
        "peer_id",
        "jitter_ms",
        "packet_loss_rate",
        "active_transfers",
        "amst_streams",
    }


def test_every_column_is_documented():
    for col in dwcp_data.COLUMNS:
        assert col.description, col.name
    units = {c.name: c.unit for c in dwcp_data.COLUMNS}
    assert units["rtt_ms"] == "ms" and units["available_bandwidth_mbps"] == "Mbit/s"


def test_polars_version_gate():
    _compat.check_polars_version("1.32.0")
    _compat.check_polars_version("2.1.0")
    for bad in ("1.31.0", "2.2.0", "0.20.31"):
        try:
            _compat.check_polars_version(bad)
        except errors.IncompatiblePolarsError as exc:
            assert bad in str(exc) and "pip install" in str(exc)
        else:
            raise AssertionError(f"{bad} accepted")
