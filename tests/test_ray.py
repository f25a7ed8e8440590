"""The Ray engine: the one-machine answers, whatever the blocks, and a lost worker retried."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import polars as pl
import psutil
import pytest
from polars.testing import assert_frame_equal
from test_profiles import same

import dwcp_data
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import END, hostile, mixed_layout_shards, tricky_shards, write_shards

ray = pytest.importorskip("ray", reason="the Ray engine needs the extra dwcp-data[ray]")
dwcp_ray = pytest.importorskip("dwcp_data.ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """A local Ray of 2 CPUs with a small object store, as CI has."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=400 << 20,
        logging_level="warning",
        log_to_driver=False,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(autouse=True)
def small_slices(monkeypatch):
    """Tasks read, clean and write their blocks in slices of 700 rows (taken from
    the driver's ``SLICE_ROWS`` of the passes and the cleaner): slice edges fall inside blocks.
    Small shards are read in blocks of at most 300 rows (two of ``many_blocks``)."""
    import dwcp_data.datasets.cleaner
    import dwcp_data.datasets.passes
    import dwcp_data.datasets.shards

    for module in (dwcp_data.datasets.passes, dwcp_data.datasets.cleaner):
        monkeypatch.setattr(module, "SLICE_ROWS", 700)
    monkeypatch.setattr(dwcp_data.datasets.shards, "GROUP_ROWS", 300)


def many_blocks(tmp_path: Path) -> Path:
    """40 small shards of hostile rows: duplicates across them, nulls and NaN,
    and groups of `link_type`, `region` absent from many."""
    df = hostile(4000, seed=7)
    df = pl.concat([df, df.slice(3000, 200), df.slice(5, 30)]).sort("link_type", maintain_order=True)
    return write_shards(tmp_path / "many", [df.slice(k, 106) for k in range(0, df.height, 106)])


@pytest.mark.filterwarnings("ignore:.*schema column\\(s\\) absent, read as nulls")
@pytest.mark.parametrize("by", [None, "link_type", ["link_type", "region"]])
@pytest.mark.parametrize("shards", [tricky_shards, many_blocks, mixed_layout_shards])
def test_clean_on_ray_equals_the_one_machine_clean(tmp_path, by, shards):
    folder = shards(tmp_path)
    expected = dwcp_data.clean_dataset(folder, tmp_path / "local", by=by)
    report = dwcp_data.clean_dataset(folder, tmp_path / "ray", by=by, engine="ray")
    assert report == expected
    assert report.duplicates_removed > 0 and report.imputed
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )
    assert_frame_equal(
        dwcp_data.read_training_data(tmp_path / "ray"), dwcp_data.read_training_data(tmp_path / "local")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["local", "ray", folder.name])


def test_clean_options_on_ray(tmp_path):
    folder = tricky_shards(tmp_path)
    options = {"dedupe": False, "outlier_columns": ["rtt_ms"], "iqr_k": 0.5, "impute": None}
    expected, expected_report = dwcp_data.clean(dwcp_data.read_training_data(folder), report=True, **options)
    assert dwcp_data.clean_dataset(folder, tmp_path / "out", **options, engine="ray") == expected_report
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "out"), expected)


@pytest.mark.parametrize("blocks", [1, 7, 64])
def test_a_ray_dataset_gives_the_in_memory_answers(tmp_path, blocks):
    df = hostile(3000, seed=9)
    df = pl.concat([df, df.slice(2500, 100), df.head(20)])
    ds = ray.data.from_arrow(df.to_arrow()).repartition(blocks)
    expected, expected_report = dwcp_data.clean(df, report=True)
    assert dwcp_data.clean_dataset(ds, tmp_path / "clean", engine="ray") == expected_report
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "clean"), expected)
    assert len(list((tmp_path / "clean").iterdir())) == blocks + 1  # and the manifest
    for profile in ["document", "strict"]:
        got = dwcp_data.validate_dataset(ds, profile=profile, now=END, max_examples=3, engine="ray")
        assert got.results == dwcp_data.validate(df, profile=profile, now=END, max_examples=3).results
    assert dwcp_data.label_dataset(ds, tmp_path / "labelled", engine="ray") == df.height
    result = dwcp_data.run_pipeline(ds, tmp_path / "run", min_rows=100, on_invalid="continue", engine="ray")
    assert result.report["source"] == {"kind": "ray dataset", "blocks": blocks, "rows": df.height}
    assert result.report["cleaning"] == expected_report.to_dict()
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "labelled"), dwcp_data.label_oracle(df))


def test_label_is_a_lazy_map_over_the_blocks():
    df = hostile(3000, seed=11)
    ds = dwcp_ray.label(ray.data.from_arrow(df.to_arrow()).repartition(5), cpu_weight=0.2)
    expected = dwcp_data.label_oracle(df, cpu_weight=0.2)
    from dwcp_data.datasets.ray import _ordered_blocks

    got = pl.concat(pl.DataFrame(pl.from_arrow(ray.get(r))) for r in _ordered_blocks(ds))
    assert_frame_equal(got.cast(expected.schema), expected)


def test_hostile_blocks_give_the_in_memory_answers(tmp_path):
    """pandas blocks, an empty block, narrower and exotic dtypes, an unknown
    column, and newlines, quotes, backslashes and Unicode in the text grouped on."""
    nasty = ["n1\nevil", 'say "hi"', "back\\slash\\", "ünï©ødé ✓", "comma,=space ", "", "null"]
    df = hostile(2100, seed=45).with_columns(
        pl.Series("node_id", [nasty[i % len(nasty)] for i in range(2100)]),
        pl.Series("peer_id", [None if i % 11 == 0 else nasty[(i * 3) % len(nasty)] for i in range(2100)]),
    )
    df = pl.concat([df, df.slice(1500, 40)])
    narrow = df.with_columns(
        pl.col("cpu_usage").cast(pl.Float32),
        pl.col("active_transfers").cast(pl.Int32),
        pl.col("link_type").cast(pl.String),
        pl.lit("extra").alias("unknown_column"),
    )
    pieces = [narrow.slice(0, 700).to_pandas(), narrow.clear().to_pandas(), narrow.slice(700).to_pandas()]
    ds = ray.data.from_pandas(pieces)
    conformed = df.with_columns(pl.col("cpu_usage").cast(pl.Float32).cast(pl.Float64))
    for by in [None, ["node_id", "peer_id"]]:
        expected, expected_report = dwcp_data.clean(conformed, by=by, report=True)
        assert dwcp_data.clean_dataset(ds, tmp_path / "out", by=by, engine="ray") == expected_report
        assert_frame_equal(dwcp_data.read_training_data(tmp_path / "out"), expected)
        assert expected_report.duplicates_removed >= 40
    # pandas carries NaN as missing: Ray Data's blocks hold nulls there (cleaning treats both alike)
    as_pandas_has_it = conformed.with_columns(pl.col(pl.Float64).fill_nan(None))
    got = dwcp_data.validate_dataset(ds, profile="strict", now=END, engine="ray")
    assert got.results == dwcp_data.validate(as_pandas_has_it, profile="strict", now=END).results


@pytest.mark.parametrize("profile", ["document", "strict"])
def test_validate_on_ray_equals_the_one_machine_report(tmp_path, profile):
    folder = tricky_shards(tmp_path)
    for shard in folder.iterdir():  # values the rules reject, a column without values
        pl.read_parquet(shard).with_columns(
            pl.lit(None, dtype=pl.Float64).alias("hde_throughput_mbps"),
            pl.when(pl.int_range(pl.len()) % 50 == 1).then(-5.0).otherwise(pl.col("rtt_ms")).alias("rtt_ms"),
        ).write_parquet(shard)
    expected = dwcp_data.validate_dataset(folder, profile=profile, now=END)
    got = dwcp_data.validate_dataset(folder, profile=profile, now=END, engine="ray")
    assert got.results == expected.results and not got.passed
    assert (got.n_rows, got.profile) == (expected.n_rows, expected.profile)


def test_label_on_ray_equals_the_one_machine_labels(tmp_path):
    folder = tricky_shards(tmp_path)
    assert dwcp_data.label_dataset(
        folder, tmp_path / "ray", cpu_weight=0.3, engine="ray"
    ) == dwcp_data.label_dataset(folder, tmp_path / "local", cpu_weight=0.3)
    assert_frame_equal(
        dwcp_data.read_training_data(tmp_path / "ray"), dwcp_data.read_training_data(tmp_path / "local")
    )


def comparable(report: dict) -> dict:
    """A run report without what differs between runs (times, paths, ``now``, freshness)."""
    skip = {
        "stages",
        "seconds",
        "started_at",
        "output",
        "profile",
        "engine",
        "input_validation",
        "output_validation",
    }
    kept = {k: v for k, v in report.items() if k not in skip}
    kept["stages"] = [(s["stage"], s["rows"]) for s in report["stages"]]
    # freshness is measured from the moment each run ends
    kept["quality"] = {k: v for k, v in report["quality"].items() if k != "freshness_hours"}
    for key in ["input_validation", "output_validation"]:
        kept[key] = [r for r in report[key]["results"] if r["rule"] != "timestamp_not_future"]
    return kept


@pytest.mark.filterwarnings("ignore:.*schema column\\(s\\) absent, read as nulls")
@pytest.mark.parametrize("profile", ["document", "strict"])
@pytest.mark.parametrize("shards", [many_blocks, mixed_layout_shards])
def test_the_pipeline_on_ray_equals_the_one_machine_run(tmp_path, profile, shards):
    folder = shards(tmp_path)
    options = {"profile": profile, "min_rows": 100, "on_invalid": "continue", "by": "link_type"}
    local = dwcp_data.run_pipeline(folder, tmp_path / "local", **options)
    on_ray = dwcp_data.run_pipeline(folder, tmp_path / "ray", engine="ray", **options)
    assert on_ray.report["engine"] == "ray" and on_ray.report["status"] == local.report["status"]
    assert comparable(on_ray.report) == comparable(local.report)
    same(dwcp_data.load_profile(on_ray.report["profile"]), dwcp_data.load_profile(local.report["profile"]))
    assert_frame_equal(
        dwcp_data.read_training_data(on_ray.dataset), dwcp_data.read_training_data(local.dataset)
    )


@pytest.mark.filterwarnings("ignore:.*schema column\\(s\\) absent, read as nulls")
@pytest.mark.parametrize("shards", [many_blocks, mixed_layout_shards])
def test_quality_metrics_on_ray_equal_the_whole_frames(tmp_path, shards):
    folder = shards(tmp_path)
    whole = dwcp_data.read_training_data(folder)
    expected = dwcp_data.quality_metrics(whole, now=END)
    assert dwcp_data.quality_metrics(folder, now=END, engine="ray") == expected
    assert dwcp_data.quality_metrics(whole.lazy(), now=END, engine="ray") == expected
    assert dwcp_data.quality_metrics(ray.data.from_arrow(whole.to_arrow()), now=END, engine="ray") == expected


def test_the_cli_pipeline_on_ray(tmp_path):
    from dwcp_data.cli import main

    folder = tmp_path / "in"
    dwcp_data.write_training_data(
        dwcp_data.generate_synthetic(20_000, seed=1, end=END), folder, shard_rows=3000
    )
    assert main(["pipeline", "--engine", "ray", "--source", str(folder), "--out", str(tmp_path / "o")]) == 0
    expected = dwcp_data.run_pipeline(folder, tmp_path / "local")
    assert_frame_equal(
        dwcp_data.read_training_data(tmp_path / "o"), dwcp_data.read_training_data(expected.dataset)
    )
    assert len(list((tmp_path / "o").iterdir())) == 7 + 1  # and the manifest
    # a URI is read by Ray Data: here a file:// one, the rows the same
    assert (
        main(["pipeline", "--engine", "ray", "--source", folder.as_uri(), "--out", str(tmp_path / "u")]) == 0
    )
    assert_frame_equal(
        dwcp_data.read_training_data(tmp_path / "u"), dwcp_data.read_training_data(expected.dataset)
    )


def test_ray_needs_shards_and_a_folder(tmp_path):
    with pytest.raises(dwcp_data.errors.InvalidArgumentError, match="engine"):
        dwcp_data.run_pipeline(None, tmp_path / "out", engine="ray")
    with pytest.raises(dwcp_data.errors.InvalidArgumentError, match="engine"):
        dwcp_data.run_pipeline(tricky_shards(tmp_path), tmp_path / "out.parquet", engine="ray")
    with pytest.raises(dwcp_data.errors.InvalidArgumentError, match="engine"):
        dwcp_data.run_pipeline(hostile(10, seed=1), tmp_path / "out", engine="ray")  # a frame: no shards
    with pytest.raises(dwcp_data.errors.InvalidArgumentError, match="engine"):
        dwcp_data.run_pipeline(tmp_path / "in", tmp_path / "out", engine="spark")
    assert not (tmp_path / "out").exists()


def test_a_bad_block_raises_its_own_error_and_leaves_no_output(tmp_path):
    folder = tricky_shards(tmp_path)
    dwcp_data.clean_dataset(folder, tmp_path / "out", engine="ray")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    (folder / "shard-009.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(DataError, match=r"shard-009\.parquet") as raised:
        dwcp_data.clean_dataset(folder, tmp_path / "out", engine="ray")
    assert not isinstance(raised.value, ray.exceptions.RayError), "the task's own error, not Ray's wrapper"
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]
    (folder / "shard-009.parquet").unlink()
    with pytest.raises(DataError) as raised:
        dwcp_data.clean_dataset(folder, tmp_path / "out", outlier_columns=["not_a_column"], engine="ray")
    assert (raised.value.column, raised.value.rule) == ("not_a_column", "outlier_column")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


class WorkerKiller(threading.Thread):
    """Kills (SIGKILL) the first Ray worker seen running a task named ``task``."""

    def __init__(self, task: str) -> None:
        super().__init__(daemon=True)
        self.task, self.killed, self.done = f"ray::{task}", None, threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and self.killed is None:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmdline = proc.info["cmdline"] or []
                if cmdline and cmdline[0].startswith(self.task):
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    self.killed = proc.info["pid"]
                    return
            time.sleep(0.005)


@pytest.mark.parametrize("task", ["first_pass_kernel", "scan_kernel", "write_kernel"])
def test_a_worker_killed_mid_run_is_retried_with_the_same_result(tmp_path, task, monkeypatch):
    import dwcp_data.datasets.cleaner

    monkeypatch.setattr(dwcp_data.datasets.cleaner, "SLICE_ROWS", 10_000)
    folder = write_shards(
        tmp_path / "in", [hostile(40_000, seed=s) for s in range(8)] + [hostile(40_000, seed=0).head(500)]
    )
    expected = dwcp_data.clean_dataset(folder, tmp_path / "local", by="link_type")
    killer = WorkerKiller(task)
    killer.start()
    try:
        report = dwcp_data.clean_dataset(folder, tmp_path / "ray", by="link_type", engine="ray")
    finally:
        killer.done.set()
        killer.join()
    assert killer.killed is not None, f"no {task} task was seen running"
    assert (
        not psutil.pid_exists(killer.killed) or psutil.Process(killer.killed).status() == psutil.STATUS_ZOMBIE
    )
    assert report == expected
    assert_frame_equal(
        dwcp_data.read_training_data(tmp_path / "ray"), dwcp_data.read_training_data(tmp_path / "local")
    )


def test_a_shard_changed_between_passes_stops_the_ray_run(tmp_path, monkeypatch):
    folder = tricky_shards(tmp_path)
    shard = folder / "shard-002.parquet"
    rows = pl.read_parquet(shard).height
    from dwcp_data.datasets.cleaner import Cleaner

    scan = Cleaner.scan

    def scan_after_a_change(self, label, *args, **kwargs):
        if label == "clean: rtt_ms":
            dwcp_data.generate_synthetic(rows, seed=99, end=END).write_parquet(shard)
        return scan(self, label, *args, **kwargs)

    monkeypatch.setattr(Cleaner, "scan", scan_after_a_change)
    with pytest.raises(DataError, match=r"shard-002\.parquet: the shard") as raised:
        dwcp_data.clean_dataset(folder, tmp_path / "out", engine="ray")
    assert raised.value.rule == "shard_changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_ray_outputs_never_replace_what_is_not_ours(tmp_path):
    folder = tricky_shards(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("x")
    for call in (
        lambda: dwcp_data.clean_dataset(folder, home, engine="ray"),
        lambda: dwcp_data.label_dataset(folder, home, engine="ray"),
        lambda: dwcp_data.run_pipeline(folder, home, engine="ray"),
    ):
        with pytest.raises(dwcp_data.errors.InvalidArgumentError, match=r"thesis\.tex"):
            call()
    with pytest.raises(dwcp_data.errors.InvalidArgumentError, match="overlaps the input"):
        dwcp_data.clean_dataset(folder, folder / "clean", overwrite=True, engine="ray")
    assert sorted(p.name for p in home.iterdir()) == ["thesis.tex"]


def test_an_engine_object_runs_the_stages_and_keeps_the_connection(tmp_path):
    folder = tricky_shards(tmp_path)
    expected = dwcp_data.clean_dataset(folder, tmp_path / "local")
    assert dwcp_data.clean_dataset(folder, tmp_path / "ray", engine=dwcp_data.RayEngine()) == expected
    with pytest.raises(InvalidArgumentError, match="connected to Ray already") as e:
        dwcp_data.clean_dataset(folder, tmp_path / "other", engine=dwcp_data.RayEngine(num_cpus=1))
    assert e.value.param == "engine" and not (tmp_path / "other").exists()


@pytest.mark.filterwarnings("ignore:.*schema column\\(s\\) absent, read as nulls")
def test_a_profile_on_ray_equals_the_local_one(tmp_path):
    folder = mixed_layout_shards(tmp_path)
    same(dwcp_data.profile(folder, engine="ray"), dwcp_data.profile(folder))
    whole = dwcp_data.read_training_data(folder)
    same(dwcp_data.profile(ray.data.from_arrow(whole.to_arrow()), engine="ray"), dwcp_data.profile(whole))
