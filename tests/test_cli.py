"""The dwcp-data command, run through its installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess

import polars as pl
import pytest

import dwcp_data

from helpers import END


def dwcp(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    exe = shutil.which("dwcp-data")
    assert exe, "the dwcp-data console script is installed with the wheel"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "data.parquet"
    proc = dwcp("generate", "-n", "20000", "--seed", "3", "--end", "2025-11-14T12:34:56Z", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


def test_generate_writes_parquet_and_csv(tmp_path, dataset):
    assert pl.read_parquet(dataset).schema == dwcp_data.SCHEMA
    out = tmp_path / "data.csv"
    proc = dwcp("generate", "-n", "10", "--out", str(out), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["files"] == [str(out)]
    assert out.read_text().splitlines()[0] == ",".join(dwcp_data.SCHEMA.names())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # no temporary file left behind


def test_generate_shards_equal_one_frame(tmp_path):
    proc = dwcp(
        "generate",
        "-n",
        "50000",
        "--seed",
        "5",
        "--end",
        "2025-11-14T12:34:56Z",
        "--shard-rows",
        "12000",
        "--out",
        str(tmp_path / "shards"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    files = json.loads(proc.stdout)["files"]
    assert len(files) == 5 and files[0].endswith("part-00000.parquet")
    whole = dwcp_data.generate_synthetic(50_000, 5, end=END)
    assert dwcp_data.read_training_data(tmp_path / "shards").equals(whole)


def test_validate_exit_codes(tmp_path, dataset):
    proc = dwcp("validate", str(dataset), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["passed"] is True
    small = tmp_path / "small.parquet"
    pl.read_parquet(dataset).head(100).write_parquet(small)
    proc = dwcp("validate", str(small))
    assert proc.returncode == 1 and "min_rows" in proc.stdout


def test_clean_label_report(tmp_path, dataset):
    cleaned, labelled = tmp_path / "clean.parquet", tmp_path / "label.parquet"
    proc = dwcp("clean", str(dataset), "--out", str(cleaned), "--by", "link_type", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["rows_in"] == 20_000
    proc = dwcp("label", str(cleaned), "--out", str(labelled))
    assert proc.returncode == 0 and "oracle_compression" in proc.stdout
    proc = dwcp("report", str(labelled), "--json")
    summary = json.loads(proc.stdout)
    assert proc.returncode == 0 and set(summary["label_shares"]) == {"hde", "amst", "baseline"}
    assert "rtt_ms" in dwcp("report", str(labelled)).stdout


def test_validate_clean_and_label_shard_folders_in_bounded_memory(tmp_path):
    shards = tmp_path / "shards"
    proc = dwcp("generate", "-n", "30000", "--seed", "9", "--shard-rows", "7000", "--out", str(shards))
    assert proc.returncode == 0, proc.stderr
    proc = dwcp("validate", str(shards), "--profile", "strict", "--json", "--progress")
    assert proc.returncode == 0 and "validate" in proc.stderr, proc.stderr
    in_memory = dwcp_data.validate(dwcp_data.read_training_data(shards), profile="strict").to_dict()
    got = json.loads(proc.stdout)

    def without_now(results: list[dict]) -> list[dict]:  # "now" differs between the two runs
        return [
            {k: v for k, v in r.items() if r["rule"] != "timestamp_not_future" or k != "threshold"}
            for r in results
        ]

    assert without_now(got["results"]) == without_now(in_memory["results"]) and got["n_rows"] == 30_000
    proc = dwcp(
        "clean", str(shards), "--out", str(tmp_path / "clean"), "--by", "link_type", "--progress", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert "clean: rows" in proc.stderr and "clean: writing" in proc.stderr  # a bar per pass
    summary = json.loads(proc.stdout)
    expected, report = dwcp_data.clean(dwcp_data.read_training_data(shards), by="link_type", report=True)
    assert summary == {"out": str(tmp_path / "clean"), **report.to_dict()}
    cleaned = dwcp_data.read_training_data(tmp_path / "clean")
    assert cleaned.equals(expected)
    proc = dwcp("label", str(tmp_path / "clean"), "--out", str(tmp_path / "labelled"), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["rows"] == expected.height
    assert len(list((tmp_path / "labelled").iterdir())) == 5 + 1  # and the manifest


def test_pipeline(tmp_path):
    out = tmp_path / "training.parquet"
    proc = dwcp("pipeline", "-n", "20000", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (
        "pipeline ok" in proc.stdout and out.exists() and (tmp_path / "training.parquet.report.json").exists()
    )
    proc = dwcp("pipeline", "-n", "500", "--out", str(tmp_path / "tiny.parquet"))
    assert proc.returncode == 1 and "min_rows" in proc.stderr
    assert not (tmp_path / "tiny.parquet").exists()


def test_pipeline_json_reports_a_failed_validation(tmp_path):
    proc = dwcp("pipeline", "-n", "500", "--out", str(tmp_path / "tiny.parquet"), "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["status"] == "validation_failed"
    assert not report["input_validation"]["passed"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_every_command_writes_every_format(tmp_path, dataset, suffix):
    def ok(*args: str) -> None:
        proc = dwcp(*args)
        assert proc.returncode == 0, (args, proc.stderr)

    generated, cleaned, labelled = (tmp_path / f"{n}{suffix}" for n in ("gen", "clean", "label"))
    ok("generate", "-n", "12000", "--seed", "3", "--end", "2025-11-14T12:34:56Z", "--out", str(generated))
    fmt = suffix.removeprefix(".")
    shards = tmp_path / "shards"
    ok("generate", "-n", "12000", "--shard-rows", "5000", "--format", fmt, "--out", str(shards))
    assert sorted(p.suffix for p in shards.iterdir()) == sorted([suffix] * 3 + [".json"])
    ok("clean", str(generated), "--out", str(cleaned))
    ok("label", str(cleaned), "--out", str(labelled))
    ok("pipeline", "--source", str(shards), "--min-rows", "5000", "--out", str(tmp_path / f"train{suffix}"))
    assert (tmp_path / f"train{suffix}.report.json").exists()
    df = dwcp_data.read_training_data(labelled)
    assert df.height == dwcp_data.read_training_data(cleaned).height and "oracle_compression" in df.columns
    assert dwcp_data.read_training_data(tmp_path / f"train{suffix}").height > 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_two_outputs_in_one_folder_keep_their_own_reports(tmp_path):
    for suffix in (".parquet", ".csv"):
        out = str(tmp_path / f"t{suffix}")
        proc = dwcp("pipeline", "-n", "12000", "--seed", str(len(suffix)), "--min-rows", "5000", "--out", out)
        assert proc.returncode == 0, proc.stderr
    first = json.loads((tmp_path / "t.parquet.report.json").read_text())
    second = json.loads((tmp_path / "t.csv.report.json").read_text())
    assert first["output"].endswith("t.parquet") and second["output"].endswith("t.csv")


def test_bad_csv_line_and_quarantine(tmp_path, dataset):
    csv = tmp_path / "d.csv"
    pl.read_parquet(dataset).head(30).write_csv(csv)
    lines = csv.read_text().splitlines(keepends=True)
    lines[3] = "oops\n"
    csv.write_text("".join(lines))
    proc = dwcp("validate", str(csv))
    assert proc.returncode == 2 and "line 4" in proc.stderr
    proc = dwcp("report", str(csv), "--on-bad-rows", "quarantine", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["rows"] == 29
    assert (tmp_path / "d.csv.rejects.csv").read_text().endswith("oops\n")


def test_validate_reports_columns_a_file_lacks(tmp_path, dataset):
    # The collector's data as the document's pandas export writes it: four columns never there.
    collected = tmp_path / "collected.csv"
    pl.read_parquet(dataset).drop("node_id", "peer_id", "active_transfers", "hde_throughput_mbps").write_csv(
        collected
    )
    proc = dwcp("validate", str(collected), "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["passed"], proc.stderr
    absent = [r["column"] for r in report["results"] if str(r["observed"]).startswith("absent")]
    assert absent == ["node_id", "peer_id", "active_transfers", "hde_throughput_mbps"]
    assert "read as nulls: node_id, peer_id, active_transfers, hde_throughput_mbps" in proc.stderr
    proc = dwcp("validate", str(collected), "--profile", "strict")
    assert proc.returncode == 1 and "schema_columns" in proc.stdout
    no_rtt = tmp_path / "no_rtt.parquet"
    pl.read_parquet(dataset).drop("rtt_ms").write_parquet(no_rtt)
    proc = dwcp("validate", str(no_rtt))
    assert proc.returncode == 1 and "required_columns" in proc.stdout and "rtt_ms_range" in proc.stdout


def test_a_folder_is_what_does_not_end_in_a_data_file_suffix(tmp_path):
    """One rule for the CLI, the stages, ``run_pipeline`` and ``write_training_data``."""
    shards = tmp_path / "in"
    dwcp_data.write_training_data(dwcp_data.generate_synthetic(3000, seed=2), shards, shard_rows=1000)
    assert dwcp("generate", "-n", "100", "--out", str(tmp_path / "gen.v2")).returncode == 0
    assert dwcp("clean", str(shards), "--out", str(tmp_path / "clean.v2")).returncode == 0
    assert (
        dwcp(
            "pipeline", "--source", str(shards), "--out", str(tmp_path / "cli.v2"), "--min-rows", "10"
        ).returncode
        == 0
    )
    dwcp_data.write_training_data(dwcp_data.generate_synthetic(10, seed=2), tmp_path / "api.v2")
    dwcp_data.run_pipeline(shards, tmp_path / "run.v2", min_rows=10)
    for name in ["gen.v2", "clean.v2", "cli.v2", "api.v2", "run.v2"]:
        assert (tmp_path / name / "_dwcp_manifest.json").is_file(), name
    assert dwcp("generate", "-n", "100", "--out", str(tmp_path / "one.PARQUET")).returncode == 0
    assert (tmp_path / "one.PARQUET").is_file()


def test_bad_usage_exits_2(tmp_path):
    proc = dwcp("generate", "-n", "-5", "--out", str(tmp_path / "x.parquet"))
    assert proc.returncode == 2 and "`n`" in proc.stderr
    assert dwcp("generate").returncode == 2
    assert dwcp("validate", str(tmp_path / "missing.parquet")).returncode == 2
    assert dwcp("frobnicate").returncode == 2
    assert not list(tmp_path.iterdir())


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_output_and_reports_never_hold_bare_nan_or_infinity(tmp_path):
    # infinite values give NaN fences: JSON has no NaN, so they are written as null
    df = dwcp_data.generate_synthetic(20_000, seed=1, end=END)
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(float("inf"))
        .otherwise(pl.col("rtt_ms"))
        .alias("rtt_ms")
    )
    df.write_parquet(tmp_path / "inf.parquet")
    proc = dwcp("clean", str(tmp_path / "inf.parquet"), "--out", str(tmp_path / "out.parquet"), "--json")
    assert proc.returncode == 0, proc.stderr
    fence = _strict_json(proc.stdout)["outliers"][0]["fences"][0]  # type: ignore[index]
    assert fence["q3"] is None and fence["upper"] is None
    proc = dwcp(
        "pipeline",
        "--source",
        str(tmp_path / "inf.parquet"),
        "--out",
        str(tmp_path / "t"),
        "--json",
        "--continue-on-invalid",
    )
    assert proc.returncode == 1, proc.stderr
    _strict_json(proc.stdout)
    _strict_json((tmp_path / "t.report.json").read_text())
    _strict_json((tmp_path / "t" / "_dwcp_manifest.json").read_text())


def test_a_progress_bar_ends_its_line_when_its_pass_stops_part_way(capsys):
    from dwcp_data._progress import progress

    with pytest.raises(RuntimeError):
        for i in progress(range(5), "pass", enabled=True):
            if i == 2:
                raise RuntimeError("a failing shard")
    err = capsys.readouterr().err
    assert err.endswith("\n") and "pass [" in err and "2/5" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--days", "999999999"], "--days"),
        (["--days", "0"], "--days"),
        (["--concurrency", "0"], "--concurrency"),
        (["--concurrency", "-3"], "--concurrency"),
        (["--influx-url", "http://[::1"], "url"),
        (["--influx-url", "http://host:99999"], "url"),
    ],
)
def test_export_arguments_out_of_range_are_usage_errors(tmp_path, args, says):
    base = {"--influx-url": "http://127.0.0.1:9", "--database": "d", "--output": str(tmp_path / "out")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    proc = dwcp("export", *[part for pair in base.items() for part in pair], timeout=60)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_generate_refuses_timestamps_influxdb_cannot_store_and_says_what_fits(tmp_path):
    proc = dwcp("generate", "-n", "40000000", "--out", str(tmp_path / "x.parquet"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "before 1677-09-21" in proc.stderr and "with a freq of at most" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []
    # what it says fits, fits
    fits = dwcp(
        "generate", "-n", "40000000", "--freq", "4m", "--shard-rows", "10000000", "--out", str(tmp_path / "d")
    )
    assert fits.returncode == 0, fits.stderr


def test_no_stage_crashes_on_years_a_python_datetime_cannot_hold(tmp_path):
    # a Polars Datetime holds them; the rest of the package must not convert them to datetime
    df = dwcp_data.generate_synthetic(20_000, seed=5, end=END, freq="1h").with_columns(
        pl.col("timestamp") - pl.duration(days=365 * 4600)
    )
    assert df["timestamp"].dt.year().min() < 0
    source = tmp_path / "ancient.parquet"
    df.write_parquet(source)
    report = dwcp("report", str(source), "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["first_timestamp"].startswith("-2")
    pipeline = dwcp(
        "pipeline", "--source", str(source), "--out", str(tmp_path / "t.parquet"), "--min-rows", "100"
    )
    assert pipeline.returncode in (0, 1) and "Traceback" not in pipeline.stderr, pipeline.stderr
    quality = dwcp_data.quality_metrics(df)
    assert quality["newest_timestamp"].startswith("-2") and quality["freshness_hours"] > 4e7
    from dwcp_data import selector

    model = selector.train(df, n_estimators=3)
    assert model.card["window"]["train"][0].startswith("-2")
