"""Data sets larger than memory: the shard-by-shard stages give the in-memory answers exactly."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_profiles import same as same_profiles

import dwcp_data
from dwcp_data.datasets import clean_dataset, label_dataset, validate_dataset
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import (
    END,
    hostile,
    mixed_layout_shards,
    shard_validation_facts,
    tiny_shards,
    tricky_shards,
    write_shards,
)


@pytest.fixture(autouse=True)
def small_slices(monkeypatch):
    """Shards here are read, cleaned and written in slices of 700 rows (1 << 20
    by default, which the pipeline and CLI tests use): slice edges fall inside
    shards and inside Parquet row groups."""
    import dwcp_data.datasets.passes

    monkeypatch.setattr(dwcp_data.datasets.passes, "SLICE_ROWS", 700)


def in_memory(folder: Path, **options) -> tuple[pl.DataFrame, dwcp_data.CleaningReport]:
    return dwcp_data.clean(dwcp_data.read_training_data(folder), report=True, **options)


@pytest.mark.parametrize("by", [None, "link_type", ["link_type", "data_type"], "node_id"])
def test_clean_dataset_equals_the_in_memory_clean(tmp_path, by):
    folder = tricky_shards(tmp_path)
    expected, expected_report = in_memory(folder, by=by)
    report = clean_dataset(folder, tmp_path / "out", by=by)
    outputs = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in outputs] == ["_dwcp_manifest.json"] + [f"part-{i:05d}.parquet" for i in range(5)]
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "out"), expected)
    assert report == expected_report
    assert report.duplicates_removed == 348 and report.imputed  # 48, and the wan shard repeats rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"], "no work files left"


def test_clean_dataset_options_match_too(tmp_path):
    folder = tricky_shards(tmp_path)
    options = {"dedupe": False, "outlier_columns": ["rtt_ms"], "iqr_k": 0.5, "impute": None}
    expected, expected_report = in_memory(folder, **options)
    report = clean_dataset(folder, tmp_path / "out", **options)
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "out"), expected)
    assert report == expected_report


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(
        st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.5, 2.0, 1e9, -3.0]), st.floats(-1e6, 1e6)),
        min_size=0,
        max_size=60,
    ),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    by=st.sampled_from([None, "link_type"]),
)
def test_random_shards_give_the_in_memory_answer(tmp_path_factory, values, cuts, by):
    tmp = tmp_path_factory.mktemp("prop")
    base = dwcp_data.generate_synthetic(max(len(values), 1), seed=len(values), end=END).head(len(values))
    # few distinct rows, so that duplicates across shards are common
    df = base.with_columns(
        pl.Series("rtt_ms", values, dtype=pl.Float64),
        ((pl.col("available_bandwidth_mbps") / 100).round() * 100).alias("available_bandwidth_mbps"),
        pl.lit(100.0).alias("cpu_usage"),
    )
    df = pl.concat([df, df.head(len(values) // 3)])
    bounds = sorted({0, df.height, *[min(c, df.height) for c in cuts]})
    shards = [df.slice(a, b - a) for a, b in itertools.pairwise(bounds)] or [df]
    folder = write_shards(tmp / "in", shards)
    options = {"by": by, "outlier_columns": ["rtt_ms", "available_bandwidth_mbps"]}
    expected, expected_report = in_memory(folder, **options)
    report = clean_dataset(folder, tmp / "out", **options)
    assert_frame_equal(dwcp_data.read_training_data(tmp / "out"), expected)
    assert report == expected_report


@pytest.mark.parametrize("profile", ["document", "strict"])
@pytest.mark.parametrize("max_examples", [2, 10_000])
def test_validate_dataset_equals_the_in_memory_report(tmp_path, profile, max_examples):
    folder = tricky_shards(tmp_path)
    # a column without values everywhere, one with values in one shard only,
    # and values the rules reject
    for i, shard in enumerate(sorted(folder.iterdir())):
        df = pl.read_parquet(shard).with_columns(
            pl.lit(None, dtype=pl.Float64).alias("hde_throughput_mbps"),
            pl.col("entropy") if i == 2 else pl.lit(None, dtype=pl.Float64).alias("entropy"),
            pl.when(pl.int_range(pl.len()) % 50 == 1).then(-5.0).otherwise(pl.col("rtt_ms")).alias("rtt_ms"),
        )
        df.write_parquet(shard)
    options = {"profile": profile, "max_examples": max_examples, "now": END}
    expected = dwcp_data.validate(dwcp_data.read_training_data(folder), **options)
    got = validate_dataset(folder, **options)
    assert got.results == expected.results
    assert (got.passed, got.n_rows) == (expected.passed, expected.n_rows)
    assert not got.passed and any(r.failing_rows for r in got.results)
    if profile == "strict":  # the repeated rows repeat their keys across shards
        assert next(r for r in got.results if r.rule == "unique_timestamp_per_pair").failing_rows == 348


def test_label_dataset_equals_labelling_the_whole(tmp_path):
    folder = tricky_shards(tmp_path)
    rows = label_dataset(folder, tmp_path / "labelled")
    whole = dwcp_data.label_oracle(dwcp_data.read_training_data(folder))
    got = pl.concat(pl.read_parquet(p) for p in sorted((tmp_path / "labelled").glob("*.parquet")))
    assert rows == whole.height
    assert_frame_equal(got, whole)


def test_a_bad_shard_leaves_the_old_output_untouched(tmp_path):
    folder = tricky_shards(tmp_path)
    clean_dataset(folder, tmp_path / "out")
    before = sorted((tmp_path / "out").iterdir())
    (folder / "shard-009.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(DataError, match=r"shard-009\.parquet"):
        clean_dataset(folder, tmp_path / "out")
    assert sorted((tmp_path / "out").iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


@pytest.mark.filterwarnings("ignore:.*schema column\\(s\\) absent, read as nulls")
@pytest.mark.parametrize("profile", ["document", "strict"])
@pytest.mark.parametrize("shards", [tricky_shards, tiny_shards])
def test_the_pipeline_on_a_folder_equals_the_in_memory_run(tmp_path, monkeypatch, profile, shards):
    """Tiny shards are read together, in blocks of at most 40 rows here."""
    import dwcp_data.datasets.shards

    monkeypatch.setattr(dwcp_data.datasets.shards, "GROUP_ROWS", 40)
    folder = shards(tmp_path)
    blocks = len(dwcp_data.datasets.shards.Dataset(folder).block_ranges())
    options = {"profile": profile, "min_rows": 100, "on_invalid": "continue", "by": "link_type"}
    whole = dwcp_data.run_pipeline(folder, tmp_path / "whole.parquet", **options)
    sharded = dwcp_data.run_pipeline(folder, tmp_path / "sharded", **options)
    assert sharded.dataset == tmp_path / "sharded"
    assert len(list(sharded.dataset.iterdir())) == blocks + 1  # and the manifest
    assert_frame_equal(dwcp_data.read_training_data(sharded.dataset), pl.read_parquet(whole.dataset))
    a, b = whole.report, sharded.report
    for key in ["status", "cleaning", "label_shares", "class_shares_in", "class_shares_out", "source"]:
        assert a[key] == b[key], key
    for key in ["input_validation", "output_validation"]:
        assert {**a[key], "results": None} == {**b[key], "results": None}
        for x, y in zip(a[key]["results"], b[key]["results"], strict=True):
            if x["rule"] != "timestamp_not_future":  # "now" differs
                assert x == y
    assert [(s["stage"], s["rows"]) for s in a["stages"]] == [(s["stage"], s["rows"]) for s in b["stages"]]

    def figures(quality: dict) -> dict:  # freshness is counted to "now"
        return {k: v for k, v in quality.items() if k != "freshness_hours"}

    # §8's figures, gathered as the rows were written, are those of the data written
    written = dwcp_data.quality_metrics(sharded.dataset)
    assert figures(a["quality"]) == figures(b["quality"]) == figures(written)
    # the profile gathered as the rows were written is the written data's
    written_profile = dwcp_data.profile(dwcp_data.read_training_data(sharded.dataset))
    same_profiles(dwcp_data.load_profile(b["profile"]), written_profile)
    same_profiles(dwcp_data.load_profile(a["profile"]), written_profile)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            folder.name,
            *(
                f"{name}{end}"
                for name in ("sharded", "whole.parquet")
                for end in ("", ".report.json", ".profile")
            ),
        ]
    )


def test_hostile_text_is_grouped_and_deduplicated_exactly(tmp_path):
    nasty = ["n1\nevil", 'say "hi"', "back\\slash\\", "ünï©ødé ✓", "comma,=space ", "", "null"]
    df = hostile(700, seed=43).with_columns(
        pl.Series("node_id", [nasty[i % len(nasty)] for i in range(700)]),
        pl.Series("peer_id", [None if i % 11 == 0 else nasty[(i * 3) % len(nasty)] for i in range(700)]),
    )
    folder = write_shards(
        tmp_path / "in", [df.slice(0, 300), pl.concat([df.slice(300, 400), df.slice(5, 20)])]
    )
    for by in [None, ["node_id", "peer_id"]]:
        expected, expected_report = in_memory(folder, by=by)
        report = clean_dataset(folder, tmp_path / "out", by=by)
        assert_frame_equal(dwcp_data.read_training_data(tmp_path / "out"), expected)
        assert report == expected_report and report.duplicates_removed >= 20
    expected = dwcp_data.validate(dwcp_data.read_training_data(folder), profile="strict", now=END)
    assert validate_dataset(folder, profile="strict", now=END).results == expected.results


def test_lazyframe_sources_give_the_in_memory_answers(tmp_path):
    folder = tricky_shards(tmp_path)
    # a plan, not just a scan: it runs once, streamed into temporary shards
    lazy = pl.scan_parquet(folder / "*.parquet").filter(pl.col("rtt_ms").is_null() | (pl.col("rtt_ms") >= 0))
    whole = lazy.collect()
    expected, expected_report = dwcp_data.clean(whole, report=True, by="link_type")
    assert clean_dataset(lazy, tmp_path / "clean", by="link_type", work_dir=tmp_path) == expected_report
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "clean"), expected)
    report = validate_dataset(lazy, now=END, min_rows=100, work_dir=tmp_path)
    in_memory_report = dwcp_data.validate(whole, now=END, min_rows=100)
    assert (report.results, report.n_rows) == (in_memory_report.results, in_memory_report.n_rows)
    assert label_dataset(lazy, tmp_path / "labelled", work_dir=tmp_path) == whole.height
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "labelled"), dwcp_data.label_oracle(whole))
    options = {"min_rows": 100, "on_invalid": "continue"}
    run = dwcp_data.run_pipeline(lazy, tmp_path / "run", **options)
    assert run.report["source"] == {"kind": "lazyframe", "rows": whole.height}
    in_memory_run = dwcp_data.run_pipeline(whole, tmp_path / "run.parquet", **options)
    assert_frame_equal(dwcp_data.read_training_data(run.dataset), pl.read_parquet(in_memory_run.dataset))
    assert run.report["cleaning"] == in_memory_run.report["cleaning"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clean",
        "in",
        "labelled",
        "run",
        "run.parquet",
        "run.parquet.profile",
        "run.parquet.report.json",
        "run.profile",
        "run.report.json",
    ], "no temporary shards left"


def test_quality_metrics_of_a_data_set_equal_those_of_the_whole(tmp_path):
    folder = tricky_shards(tmp_path)
    labelled = dwcp_data.label_oracle(dwcp_data.read_training_data(folder))
    # a null timestamp and an hour split across shards
    labelled = labelled.with_columns(
        pl.when(pl.int_range(pl.len()) == 17).then(None).otherwise(pl.col("timestamp")).alias("timestamp")
    )
    cuts = [0, 1234, 1234, 4000, labelled.height]
    write_shards(tmp_path / "q", [labelled.slice(a, b - a) for a, b in itertools.pairwise(cuts)])
    now = END
    expected = dwcp_data.quality_metrics(labelled, now=now)
    assert expected["label_shares"] and expected["volume_mb_per_day"]["max"] > 0
    assert dwcp_data.quality_metrics(tmp_path / "q", now=now) == expected
    assert dwcp_data.quality_metrics(pl.scan_parquet(tmp_path / "q" / "*.parquet"), now=now) == expected
    assert dwcp_data.quality_metrics(labelled.lazy(), now=now) == expected
    with pytest.MonkeyPatch.context() as m:
        m.delattr(pl.LazyFrame, "collect_batches")  # as in Polars 1.32
        assert dwcp_data.quality_metrics(labelled.lazy(), now=now) == expected


@pytest.mark.parametrize("lazy", [False, True, "without collect_batches"])
def test_frames_are_written_to_a_folder_of_shards(tmp_path, monkeypatch, lazy):
    if lazy == "without collect_batches":  # as in Polars 1.32
        monkeypatch.delattr(pl.LazyFrame, "collect_batches")
    df = hostile(2500, seed=44)
    source = df.lazy() if lazy else df
    path = dwcp_data.write_training_data(source, tmp_path / "out", shard_rows=1000)
    assert [p.name for p in sorted(path.iterdir())] == ["_dwcp_manifest.json"] + [
        f"part-{i:05d}.parquet" for i in range(3)
    ]
    assert [pl.read_parquet(p).height for p in sorted(path.glob("*.parquet"))] == [1000, 1000, 500]
    assert_frame_equal(dwcp_data.read_training_data(path), df)
    # a second write replaces the folder whole; no rows still gives one (empty) shard
    dwcp_data.write_training_data(df.clear().lazy() if lazy else df.clear(), path, shard_rows=1000)
    assert sorted(p.name for p in path.iterdir()) == ["_dwcp_manifest.json", "part-00000.parquet"]
    assert_frame_equal(dwcp_data.read_training_data(path), df.clear())
    with pytest.raises(dwcp_data.errors.InvalidArgumentError) as e:
        dwcp_data.write_training_data(df, tmp_path / "other", shard_rows=0)
    assert e.value.param == "shard_rows" and not (tmp_path / "other").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_validation_facts_travel_between_processes(tmp_path):
    """The partials a driver merges (Ray's, a process pool's) pickle, and merge
    into the report validate_dataset gives."""
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor
    from datetime import datetime, timezone

    from dwcp_data.errors import InvalidArgumentError

    folder = tricky_shards(tmp_path)
    files = [str(f) for f in sorted(folder.iterdir())]
    # spawned, not forked: a fork of a process running polars' threads can hang
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        shards = list(pool.map(shard_validation_facts, files))
    merged = shards[0]
    for facts in shards[1:]:
        merged = pickle.loads(pickle.dumps(merged)).then(facts)
    now = datetime.fromtimestamp(1_700_000_000, timezone.utc)
    expected = validate_dataset(folder, profile="strict", min_rows=100, now=now)
    assert merged.needs_duplicates and merged.rows == expected.n_rows
    # the repeated keys across shards are the driver's: validate_dataset finds them the same way
    count, rows = next(
        (r.failing_rows, list(r.examples)) for r in expected.results if r.rule == "unique_timestamp_per_pair"
    )
    results = tuple(merged.with_duplicates(count, rows).results())
    assert results == expected.results
    with pytest.raises(InvalidArgumentError, match="not pickled validation facts"):
        dwcp_data._core.ValidationFacts._from_bytes(b'{"facts": 1}')


def _change_shard_when(monkeypatch, label: str, change) -> list[str]:
    """Calls ``change()`` as the pass named ``label`` begins; the labels seen."""
    from dwcp_data.datasets.local import LocalRunner

    seen: list[str] = []
    passes = LocalRunner.map

    def patched(self, name, *args, **kwargs):
        seen.append(name)
        if name == label:
            change()
        return passes(self, name, *args, **kwargs)

    monkeypatch.setattr(LocalRunner, "map", patched)
    return seen


def _other_rows(shard: Path, rows: int) -> None:
    dwcp_data.generate_synthetic(rows, seed=99, end=END).write_parquet(shard)


@pytest.mark.parametrize(
    "change",
    ["same rows, other values", "more rows", "fewer rows", "mtime restored", "removed"],
)
@pytest.mark.parametrize("label", ["clean: rtt_ms", "clean: medians", "clean: writing"])
def test_a_shard_changed_between_passes_stops_the_run(tmp_path, monkeypatch, change, label):
    folder = tricky_shards(tmp_path)
    shard = folder / "shard-002.parquet"
    rows = pl.read_parquet(shard).height

    def modify() -> None:
        before = shard.stat()
        if change == "same rows, other values":
            _other_rows(shard, rows)
        elif change == "more rows":
            _other_rows(shard, rows + 500)
        elif change == "fewer rows":
            _other_rows(shard, rows - 500)
        elif change == "mtime restored":  # content rewritten in place, size and mtime put back
            data = bytearray(shard.read_bytes())
            data[len(data) // 2] ^= 0xFF
            shard.write_bytes(bytes(data))
            os.utime(shard, ns=(before.st_atime_ns, before.st_mtime_ns))
        else:
            shard.unlink()

    seen = _change_shard_when(monkeypatch, label, modify)
    with pytest.raises(DataError, match=r"shard-002\.parquet: the shard") as e:
        clean_dataset(folder, tmp_path / "out")
    assert label in seen and e.value.rule == "shard_changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"], "nothing published, no work left"


def test_a_shard_changed_during_the_pipeline_stops_it(tmp_path, monkeypatch):
    folder = tricky_shards(tmp_path)
    shard = folder / "shard-004.parquet"
    _change_shard_when(monkeypatch, "clean: data_size_bytes", lambda: _other_rows(shard, 100))
    with pytest.raises(DataError, match=r"shard-004\.parquet: the shard changed"):
        dwcp_data.run_pipeline(folder, tmp_path / "out", min_rows=10, on_invalid="continue")
    assert not (tmp_path / "out").exists()


def test_a_csv_shard_changed_between_passes_is_caught(tmp_path, monkeypatch):
    df = hostile(2000, seed=5)
    folder = tmp_path / "in"
    folder.mkdir()
    df.head(1000).write_csv(folder / "a.csv")
    df.tail(1000).write_csv(folder / "b.csv")
    _change_shard_when(monkeypatch, "clean: rtt_ms", lambda: df.tail(999).write_csv(folder / "b.csv"))
    with pytest.raises(DataError, match=r"b\.csv: the shard changed"):
        clean_dataset(folder, tmp_path / "out")


def test_data_set_arguments_are_checked_as_in_memory(tmp_path):
    folder = tricky_shards(tmp_path)
    df = dwcp_data.read_training_data(folder)
    shared = [
        ({"by": []}, "by"),
        ({"by": ["link_type", "link_type"]}, "by"),
        ({"dedupe": "no"}, "dedupe"),
        ({"impute": "mean"}, "impute"),
        ({"iqr_k": float("nan")}, "iqr_k"),
    ]
    for kwargs, param in shared:
        with pytest.raises(InvalidArgumentError) as e:
            dwcp_data.clean(df, **kwargs)
        assert e.value.param == param, kwargs
        with pytest.raises(InvalidArgumentError) as e:
            clean_dataset(folder, tmp_path / "out", **kwargs)
        assert e.value.param == param, kwargs
    for kwargs, param in [({"on_bad_rows": "skip"}, "on_bad_rows"), ({"overwrite": "yes"}, "overwrite")]:
        with pytest.raises(InvalidArgumentError) as e:
            clean_dataset(folder, tmp_path / "out", **kwargs)
        assert e.value.param == param, kwargs
    for source in ([], None, 42):
        with pytest.raises(InvalidArgumentError) as e:
            validate_dataset(source)  # type: ignore[arg-type]
        assert e.value.param == "source"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("by", [None, "link_type"])
def test_states_kept_in_the_work_folder_give_the_same_answers(tmp_path, monkeypatch, by):
    # A data set whose cleaning state outgrows _STATE_MEMORY keeps it in files.
    from dwcp_data.datasets import local

    monkeypatch.setattr(local, "STATE_MEMORY", 0)
    folder = tricky_shards(tmp_path)
    expected, expected_report = in_memory(folder, by=by)
    work = tmp_path / "work"
    work.mkdir()
    saved: list[str] = []
    keep = local.LocalRunner._keep

    def spy(self, i, state, in_memory):
        keep(self, i, state, in_memory)
        saved.extend(p.name for p in self.work.glob("state-*.arrow"))

    monkeypatch.setattr(local.LocalRunner, "_keep", spy)
    report = clean_dataset(folder, tmp_path / "out", by=by, work_dir=work)
    assert saved, "the states went to files"
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "out"), expected)
    assert report == expected_report and list(work.iterdir()) == []


ABSENT = "ignore:.*schema column\\(s\\) absent, read as nulls"


@pytest.mark.filterwarnings(ABSENT)
@pytest.mark.parametrize("by", [None, "link_type", "node_id"])  # node_id: absent from a shard
def test_mixed_shard_layouts_give_the_in_memory_answers(tmp_path, by):
    folder = mixed_layout_shards(tmp_path)
    whole = dwcp_data.read_training_data(folder)
    assert whole["rtt_ms"].null_count() >= 1520  # the older collector's rows
    expected, expected_report = dwcp_data.clean(whole, by=by, report=True)
    assert clean_dataset(folder, tmp_path / "clean", by=by) == expected_report
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "clean"), expected)
    for profile in ("document", "strict"):
        got = validate_dataset(folder, profile=profile, now=END, min_rows=100)
        in_memory = dwcp_data.validate(whole, profile=profile, now=END, min_rows=100)
        assert (got.results, got.n_rows) == (in_memory.results, in_memory.n_rows)
    assert label_dataset(folder, tmp_path / "labelled") == whole.height
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "labelled"), dwcp_data.label_oracle(whole))
    assert dwcp_data.quality_metrics(folder, now=END) == dwcp_data.quality_metrics(whole, now=END)


@pytest.mark.filterwarnings(ABSENT)
def test_the_pipeline_and_the_cli_on_mixed_shard_layouts(tmp_path):
    from dwcp_data.cli import main

    folder = mixed_layout_shards(tmp_path)
    options = {"min_rows": 100, "on_invalid": "continue", "by": "link_type"}
    whole = dwcp_data.run_pipeline(folder, tmp_path / "whole.parquet", **options)
    sharded = dwcp_data.run_pipeline(folder, tmp_path / "sharded", **options)
    assert_frame_equal(dwcp_data.read_training_data(sharded.dataset), pl.read_parquet(whole.dataset))
    assert whole.report["cleaning"] == sharded.report["cleaning"]
    assert main(["clean", str(folder), "--out", str(tmp_path / "cli")]) == 0
    assert_frame_equal(
        dwcp_data.read_training_data(tmp_path / "cli"), dwcp_data.clean(dwcp_data.read_training_data(folder))
    )


@pytest.mark.filterwarnings(ABSENT)
@pytest.mark.parametrize("group_rows", [1 << 16, 40])  # all small shards of a layout in one block; ~6 a block
def test_many_tiny_shards_are_read_together_with_the_in_memory_answers(tmp_path, monkeypatch, group_rows):
    import dwcp_data.datasets.shards

    monkeypatch.setattr(dwcp_data.datasets.shards, "GROUP_ROWS", group_rows)
    folder = tiny_shards(tmp_path)
    ds = dwcp_data.datasets.shards.Dataset(folder)
    blocks = ds.block_ranges()
    assert [i for r in blocks for i in r] == list(range(600))  # every shard once, in order
    rows = ds.rows()
    assert all(sum(rows[i] for i in r) <= group_rows for r in blocks)
    assert not any(r.start < edge < r.stop for r in blocks for edge in (200, 350))  # one layout a block
    if group_rows > 1000:
        assert blocks == [range(0, 200), range(200, 350), range(350, 600)]
    else:
        assert 40 < len(blocks) < 200
    whole = dwcp_data.read_training_data(folder)
    expected, expected_report = dwcp_data.clean(whole, by="link_type", report=True)
    assert clean_dataset(folder, tmp_path / "clean", by="link_type") == expected_report
    assert expected_report.duplicates_removed >= 40
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "clean"), expected)
    got = validate_dataset(folder, profile="strict", now=END, min_rows=100)
    in_memory = dwcp_data.validate(whole, profile="strict", now=END, min_rows=100)
    assert (got.results, got.n_rows) == (in_memory.results, in_memory.n_rows)
    assert label_dataset(folder, tmp_path / "labelled") == whole.height
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "labelled"), dwcp_data.label_oracle(whole))
    assert dwcp_data.quality_metrics(folder, now=END) == dwcp_data.quality_metrics(whole, now=END)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "labelled", "tiny"], "no work files left"


@pytest.mark.filterwarnings(ABSENT)
def test_a_tiny_shard_read_with_others_is_named_when_bad_or_changed(tmp_path, monkeypatch):
    folder = tiny_shards(tmp_path)
    (folder / "shard-100.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"shard-100\.parquet: not a readable Parquet file"):
        clean_dataset(folder, tmp_path / "out")
    folder = tiny_shards(tmp_path / "again")
    shard = folder / "shard-401.parquet"
    _change_shard_when(monkeypatch, "clean: medians", lambda: _other_rows(shard, 3))
    with pytest.raises(DataError, match=r"shard-401\.parquet: the shard changed") as e:
        clean_dataset(folder, tmp_path / "out")
    assert e.value.rule == "shard_changed" and not (tmp_path / "out").exists()


def test_data_sets_opened_on_one_engine_read_their_own_small_shards(tmp_path):
    """A run opens its input and its output on one engine: each keeps its
    blocks of small shards apart, and reads them back (from the work folder)
    as they are."""
    from dwcp_data.datasets.runners import engine_for

    df = hostile(400, seed=3)
    folders = [
        write_shards(tmp_path / n, [df.slice(k, 10) for k in range(s, 400, 20)])
        for n, s in [("a", 0), ("b", 10)]
    ]
    with (
        engine_for("local") as engine,
        engine.open(folders[0], None) as a,
        engine.open(folders[1], None) as b,
    ):
        for blocks, folder in [(a, folders[0]), (b, folders[1])] * 2:  # the second time from the spill
            assert len(blocks) == 1 and len(blocks.files) == 20
            assert_frame_equal(blocks.read(0), dwcp_data.read_training_data(folder))
            assert_frame_equal(
                blocks.read(0, ["rtt_ms", "node_id"]), blocks.read(0).select("rtt_ms", "node_id")
            )


def test_a_block_fence_is_the_cores_rule_and_travels_pickled():
    import pickle

    from dwcp_data import _core

    fence = _core.BlockFence("rtt_ms", [0.0, None, float("nan")], [6.0, None, float("nan")])
    again = pickle.loads(pickle.dumps(fence))
    assert (again.column, again.lower[:2], again.upper[:2]) == ("rtt_ms", [0.0, None], [6.0, None])
    values = pl.Series([1.0, 9.0, None, 5.0, 7.0, float("inf")])
    groups = pl.Series([0, 0, 0, 1, 2, 0], dtype=pl.UInt32)
    applied = again.apply(values, groups, pl.Series([True, True, True, True, True, False]))
    assert applied.keep.to_list() == [True, False, True, True, False, False]  # a NaN fence keeps nothing
    assert (applied.judged, applied.removed) == ([2, 1, 1], [1, 0, 1])
    with pytest.raises(InvalidArgumentError, match="group id 3 has no fence"):
        fence.apply(values, pl.Series([3] * 6, dtype=pl.UInt32), pl.Series([True] * 6))
    with pytest.raises(InvalidArgumentError, match="must be as many"):
        fence.apply(values, groups.head(2), pl.Series([True] * 6))
    with pytest.raises(InvalidArgumentError, match="pair up"):
        _core.BlockFence("rtt_ms", [0.0], [None])


def test_a_tuple_of_paths_is_a_data_set_of_those_files(tmp_path):
    folder = tricky_shards(tmp_path)
    files = tuple(sorted(str(f) for f in folder.iterdir()))
    whole = dwcp_data.read_training_data(folder)
    assert validate_dataset(files, now=END, min_rows=10).n_rows == whole.height
    assert dwcp_data.quality_metrics(files, now=END) == dwcp_data.quality_metrics(whole, now=END)


@pytest.mark.parametrize(
    "names", [["a[1]", "b*x", "c?", "d{e}"], ["ünï code", 'quote"s', "back\\slash", "new\nline"]]
)
def test_shard_names_are_names_not_patterns(tmp_path, names):
    """Glob characters, quotes, backslashes, line breaks and Unicode in shard
    names: every file is read as itself (small ones together), as in memory."""
    df = hostile(3000, seed=13)
    folder = tmp_path / "in"
    folder.mkdir()
    cuts = [0, 10, 20, 30, 3000]
    for name, start, end in zip(names, cuts, cuts[1:], strict=False):
        df.slice(start, end - start).write_parquet(folder / f"{name}.parquet")
    df.slice(0, 5).write_csv(folder / f"{names[0]}.csv")
    whole = dwcp_data.read_training_data(folder)
    assert whole.height == 3005
    expected, expected_report = dwcp_data.clean(whole, report=True)
    assert clean_dataset(folder, tmp_path / "out") == expected_report
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "out"), expected)
    assert validate_dataset(folder, now=END, min_rows=10).n_rows == whole.height
    assert dwcp_data.quality_metrics(folder, now=END) == dwcp_data.quality_metrics(whole, now=END)
    assert dwcp_data.profile(folder).rows == whole.height
