"""Data profiles: figures against numpy and polars, merged blocks equal the whole, files checked before use."""

from __future__ import annotations

import gzip
import json
import math
import pickle

import numpy as np
import polars as pl
import pytest

import dwcp_data
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import END, hostile, mixed_layout_shards, tricky_shards, write_shards


def same(a: dwcp_data.Profile, b: dwcp_data.Profile) -> None:
    """Equal profiles: every exact figure equal, means and variances to rounding."""
    assert (a.by, a.groups, a.columns, a.rows) == (b.by, b.groups, b.columns, b.rows)
    for group in [None, *a.groups]:
        for name in a.columns:
            x, y = a.column(name, group), b.column(name, group)
            for key in x.keys() - {"mean", "variance"}:
                assert x[key] == y[key], (group, name, key)
            for key in ("mean", "variance"):
                if x.get(key) is not None:
                    assert math.isclose(x[key], y[key], rel_tol=1e-9), (group, name, key)


def test_figures_match_numpy_and_polars():
    df = hostile(200_000, seed=5).with_columns(
        pl.when(pl.int_range(pl.len()) % 97 == 0)
        .then(float("inf"))
        .otherwise(pl.col("rtt_ms"))
        .alias("rtt_ms")
    )
    profile = dwcp_data.profile(df)
    assert profile.rows == df.height and profile.groups == ["dc", "metro", "wan"]
    for group in [None, "wan"]:
        part = df if group is None else df.filter(pl.col("link_type") == group)
        for name in ["rtt_ms", "data_size_bytes", "available_bandwidth_mbps", "cpu_usage"]:
            got = profile.column(name, group)
            values = part[name].cast(pl.Float64).drop_nulls().to_numpy()
            finite = values[np.isfinite(values)]
            assert got["rows"] == part.height and got["nulls"] == part[name].null_count()
            assert (got["nan"], got["pos_inf"], got["count"]) == (
                int(np.isnan(values).sum()),
                int(np.isposinf(values).sum()),
                finite.size,
            )
            assert (got["min"], got["max"]) == (finite.min(), finite.max())
            assert math.isclose(got["mean"], finite.mean(), rel_tol=1e-12)
            assert math.isclose(got["variance"], finite.var(ddof=1), rel_tol=1e-9)
            assert sum(n for _, _, n in got["bins"]) == finite.size
            for q in (0.01, 0.25, 0.5, 0.9, 0.999):
                exact = float(np.quantile(finite, q, method="lower"))
                assert abs(profile.quantile(name, q, group) - exact) <= abs(exact) * 2**-5 + 1e-300, (name, q)
        counts = dict(part["region"].drop_nulls().cast(pl.String).value_counts().iter_rows())
        assert profile.column("region", group)["counts"] == counts
    assert profile.column("node_id")["counts"] is None  # more than 256 distinct values
    assert profile.column("timestamp")["min"] == df["timestamp"].min().timestamp() * 1e6


@pytest.mark.filterwarnings("ignore:.*schema column\\(s\\) absent, read as nulls")
@pytest.mark.parametrize("shards", [tricky_shards, mixed_layout_shards])
def test_a_data_sets_profile_is_its_blocks_merged(tmp_path, shards):
    folder = shards(tmp_path)
    whole = dwcp_data.read_training_data(folder)
    same(dwcp_data.profile(folder), dwcp_data.profile(whole))
    same(dwcp_data.profile(folder, by=None), dwcp_data.profile(whole, by=None))
    same(
        dwcp_data.profile(whole.lazy(), by=["link_type", "data_type"]),
        dwcp_data.profile(whole, by=["link_type", "data_type"]),
    )


def test_hostile_columns_zero_rows_and_categories_on_one_side():
    df = pl.DataFrame(
        {
            "link_type": ["dc", "wan", "dc"],
            "empty": pl.Series([None, None, None], dtype=pl.Float64),
            "odd": [float("nan"), float("-inf"), 2.0],
            "text": ['a "quoted"\nline', "ünï", None],
        }
    )
    profile = dwcp_data.profile(df)
    assert profile.column("empty") | {"bins": []} == {
        "rows": 3, "nulls": 3, "nan": 0, "pos_inf": 0, "neg_inf": 0, "count": 0,
        "min": None, "max": None, "mean": None, "variance": None, "bins": [],
    }  # fmt: skip
    assert (
        profile.column("odd")["nan"],
        profile.column("odd")["neg_inf"],
        profile.column("odd")["count"],
    ) == (1, 1, 1)
    assert profile.column("text", "dc")["counts"] == {'a "quoted"\nline': 1}
    assert profile.quantile("empty", 0.5) is None
    empty = dwcp_data.profile(df.clear())
    assert empty.rows == 0 and empty.groups == []
    same(empty.then(profile), profile)
    with pytest.raises(InvalidArgumentError, match="`by`"):
        dwcp_data.profile(df.drop("link_type"))
    with pytest.raises(InvalidArgumentError, match="`group`"):
        profile.column("odd", "metro")
    with pytest.raises(InvalidArgumentError, match="`q`"):
        profile.quantile("odd", float("nan"))


def test_a_saved_profile_is_checked_before_use(tmp_path):
    profile = dwcp_data.profile(dwcp_data.generate_synthetic(50_000, seed=3, end=END))
    path = profile.save(tmp_path / "week.profile")
    assert path.stat().st_size < 200_000
    assert dwcp_data.load_profile(path) == profile == pickle.loads(pickle.dumps(profile))
    document = json.loads(gzip.decompress(path.read_bytes()))
    (tmp_path / "plain.json").write_text(json.dumps(document))
    assert dwcp_data.load_profile(tmp_path / "plain.json") == profile

    def refused(name: str, content: bytes, says: str, rule: str = "profile") -> None:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=says) as e:
            dwcp_data.load_profile(tmp_path / name)
        assert e.value.rule == rule and name in str(e.value)

    refused("cut", path.read_bytes()[:-40], "not a dwcp-data profile")
    refused("junk", b"\x00\x01 not json", "not a dwcp-data profile")
    refused("other.json", json.dumps({"format": "something else"}).encode(), "not a dwcp-data profile")
    edited = document | {"profile": document["profile"].replace('"rows":50000', '"rows":50001', 1)}
    refused("edited", json.dumps(edited).encode(), "cut or edited")
    # sound, but not comparable by this version: a rule of its own (the weekly DAG skips such a reference)
    refused("newer", json.dumps(document | {"version": 2}).encode(), "newer dwcp-data", "profile_version")
    refused(
        "schema", json.dumps(document | {"schema": "0" * 16}).encode(), "another schema", "profile_version"
    )
    forged = document | {"profile": "[]", "sha256": __import__("hashlib").sha256(b"[]").hexdigest()}
    refused("forged", json.dumps(forged).encode(), "not a profile")


def test_many_blocks_profile_like_the_whole(tmp_path):
    df = hostile(5000, seed=9)
    folder = write_shards(tmp_path / "in", [df.slice(k, 37) for k in range(0, df.height, 37)])
    same(dwcp_data.profile(folder), dwcp_data.profile(df))


def test_the_cli_saves_a_profile_and_refuses_bad_input(tmp_path):
    from dwcp_data.cli import main

    folder = tricky_shards(tmp_path)
    out = tmp_path / "week.profile"
    assert main(["profile", str(folder), "--out", str(out), "--by", "link_type", "data_type"]) == 0
    same(dwcp_data.load_profile(out), dwcp_data.profile(folder, by=["link_type", "data_type"]))
    assert main(["profile", str(folder), "--out", str(out), "--no-groups"]) == 0
    assert dwcp_data.load_profile(out).groups == []
    assert main(["profile", str(tmp_path / "missing"), "--out", str(out)]) == 2
    shard = next(folder.glob("*.parquet"))
    before = shard.read_bytes()
    assert main(["profile", str(shard), "--out", str(shard)]) == 2  # never over the data
    assert main(["drift", str(shard), str(out), "--html", str(shard)]) == 2
    assert shard.read_bytes() == before
