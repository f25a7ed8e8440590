"""An export folder kept up to date from a real influxd: what a reuse notices,
what a manifest may name, and two exports into one folder at once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import dwcp_data
from dwcp_data import influx
from dwcp_data.errors import DataError

import collector
from helpers import END


def days_on_the_server(influxd, database: str, days: int = 6, per_day: int = 48) -> pl.DataFrame:
    """``days`` days of the collector's points (``per_day`` a day) in ``database``."""
    df = dwcp_data.generate_synthetic(days * per_day, seed=61, end=END, freq=f"{24 * 60 // per_day}m")
    influxd.query(f"CREATE DATABASE {database}")
    collector.post_lines(influxd.url, database, collector.collector_lines(df))
    return df


def span(df: pl.DataFrame) -> dict:
    return {"start": df["timestamp"].min(), "end": df["timestamp"].max() + timedelta(seconds=1)}


def test_a_late_point_without_rtt_is_exported(influxd, tmp_path):
    df = days_on_the_server(influxd, "late")
    out = tmp_path / "exports"
    first = influx.export_to_folder(out, url=influxd.url, database="late", **span(df))
    # a timed-out probe written late into the third day: every field but rtt_ms
    row = df.slice(100, 1).with_columns(
        pl.col("timestamp") + timedelta(seconds=11), pl.lit(None).alias("rtt_ms")
    )
    lines = collector.collector_lines(row)
    assert "rtt_ms" not in lines[0]
    collector.post_lines(influxd.url, "late", lines)
    second = influx.export_to_folder(out, url=influxd.url, database="late", **span(df))
    assert second.exported == (str(row["timestamp"][0].date()),) and second.rows == first.rows + 1
    got = dwcp_data.read_training_data(list(second.files))
    assert got.filter(pl.col("rtt_ms").is_null()).height == 1


def manifest_of(out: Path) -> dict:
    return json.loads((out / "_dwcp_manifest.json").read_text())


def write_manifest(out: Path, manifest: dict) -> None:
    (out / "_dwcp_manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "name",
    ["../victim.txt", "/tmp/victim.txt", "day-2025-11-12.parquet/../../victim.txt", "..", "sub/day.parquet"],
)
def test_a_manifest_naming_a_file_elsewhere_is_refused_and_nothing_is_removed(influxd, tmp_path, name):
    df = days_on_the_server(influxd, "named")
    out = tmp_path / "exports"
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours")
    influx.export_to_folder(out, url=influxd.url, database="named", **span(df))
    manifest = manifest_of(out)
    day = sorted(manifest["days"])[0]
    manifest["days"][day]["name"] = name
    write_manifest(out, manifest)
    with pytest.raises(DataError) as info:
        influx.export_to_folder(
            out, url=influxd.url, database="named", prune=True, start=END, end=END + timedelta(1)
        )
    assert info.value.rule == "manifest" and repr(name) in str(info.value)
    assert victim.read_text() == "not yours"
    # and a manifest whose file list names it: publishing a copy refuses too
    manifest["days"][day]["name"] = f"day-{day}.parquet"
    manifest["files"][0]["name"] = name
    write_manifest(out, manifest)
    with pytest.raises(DataError, match="not the name of a file in its folder"):
        dwcp_data.read_training_data(out)
    assert victim.read_text() == "not yours"


@pytest.mark.parametrize("entry", [[1, 2], "day-x", None, 7])
def test_a_day_entry_that_is_not_an_object_is_refused(influxd, tmp_path, entry):
    df = days_on_the_server(influxd, "entries")
    out = tmp_path / "exports"
    influx.export_to_folder(out, url=influxd.url, database="entries", **span(df))
    manifest = manifest_of(out)
    manifest["days"][sorted(manifest["days"])[0]] = entry
    write_manifest(out, manifest)
    with pytest.raises(DataError) as info:
        influx.export_to_folder(out, url=influxd.url, database="entries", **span(df))
    assert info.value.rule == "manifest"
    # overwrite=True starts the folder afresh
    again = influx.export_to_folder(out, url=influxd.url, database="entries", overwrite=True, **span(df))
    assert again.rows == df.height and again.reused == ()


def test_edited_rows_are_never_reported(influxd, tmp_path):
    df = days_on_the_server(influxd, "rows")
    out = tmp_path / "exports"
    influx.export_to_folder(out, url=influxd.url, database="rows", **span(df))
    manifest = manifest_of(out)
    day = sorted(manifest["days"])[2]
    manifest["days"][day]["rows"] = 123_456
    write_manifest(out, manifest)
    report = influx.export_to_folder(out, url=influxd.url, database="rows", **span(df))
    # the shard's footer disagrees with the record: exported again, and the rows are the real ones
    assert report.exported == (day,) and report.rows == df.height


def test_two_exports_into_one_folder_at_once_record_every_day(influxd, tmp_path):
    df = days_on_the_server(influxd, "together", days=8, per_day=288)
    out = tmp_path / "exports"
    first = df["timestamp"].min()
    middle = first.replace(hour=0, minute=0, second=0) + timedelta(days=4)  # a midnight: no day is shared
    ranges = [
        {"start": first, "end": middle},
        {"start": middle, "end": df["timestamp"].max() + timedelta(seconds=1)},
    ]
    errors: list[BaseException] = []

    def export(r: dict) -> None:
        try:
            influx.export_to_folder(out, url=influxd.url, database="together", concurrency=1, **r)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=export, args=(r,)) for r in ranges]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    on_disk = sorted(p.name for p in out.glob("day-*.parquet"))
    recorded = sorted(entry["name"] for entry in manifest_of(out)["days"].values())
    assert on_disk == recorded and len(on_disk) == 9
    assert_frame_equal(
        dwcp_data.read_training_data(out).sort("timestamp"), collector.as_collected(df).sort("timestamp")
    )
