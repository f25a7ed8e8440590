"""Drift from profiles: statistics against scipy and by-hand references, verdicts where drift is injected only."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

import dwcp_data
from dwcp_data.errors import InvalidArgumentError

from helpers import END

ROWS = 1_000_000
#: Where tests leave what a person looks at (the browser's screenshot of the report).
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def sides() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two seeds of the generator: a reference week and a current one."""
    return (
        dwcp_data.generate_synthetic(ROWS, seed=1, end=END, freq="1s"),
        dwcp_data.generate_synthetic(ROWS, seed=2, end=END, freq="1s"),
    )


def injected(df: pl.DataFrame) -> pl.DataFrame:
    """RTT ×1.3 on WAN links, a fifth of the ``hde`` class relabelled ``baseline``, ``cpu_usage`` 30 % empty."""
    row = pl.int_range(pl.len())
    hde = (pl.col("current_compression") == "hde") & (row % 5 == 0)
    return df.with_columns(
        pl.when(pl.col("link_type") == "wan").then(pl.col("rtt_ms") * 1.3).otherwise(pl.col("rtt_ms")),
        pl.when(hde).then(pl.lit("baseline")).otherwise(pl.col("current_compression").cast(pl.String))
        .cast(df["current_compression"].dtype)
        .alias("current_compression"),
        pl.when(row % 10 < 3).then(None).otherwise(pl.col("cpu_usage")).alias("cpu_usage"),
    )  # fmt: skip


@pytest.mark.slow
def test_drift_is_found_where_injected_and_nowhere_else(sides):
    reference, current = sides
    assert not dwcp_data.drift(current, reference).drifted  # two seeds: no false alarm
    report = dwcp_data.drift(injected(current), reference)
    assert report.drifted
    assert set(report.drifted_columns) == {
        (None, "rtt_ms"),
        ("wan", "rtt_ms"),
        *((g, c) for g in (None, "dc", "metro", "wan") for c in ("current_compression", "cpu_usage")),
    }
    frame = report.to_frame()
    assert frame.columns == ["group", "column", "statistic", "value", "threshold", "drifted"]
    assert frame.filter(pl.col("drifted")).height >= len(report.drifted_columns)
    assert report.to_dict()["drifted_columns"][0] == {"group": None, "column": "cpu_usage"}  # column order
    assert "drift" in report._repr_html_() and "rtt_ms" in repr(report)


@pytest.mark.slow
def test_statistics_agree_with_scipy_within_the_bins_bound(sides):
    reference, current = sides
    current = injected(current)
    ref_p, cur_p = dwcp_data.profile(reference), dwcp_data.profile(current)
    rows = dwcp_data.drift(cur_p, ref_p).to_frame()

    def got(column: str, statistic: str, group: str | None = None) -> float:
        match = rows.filter(pl.col("column") == column, pl.col("statistic") == statistic)
        match = match.filter(pl.col("group").is_null() if group is None else pl.col("group") == group)
        return float(match["value"].item())

    for column in ["rtt_ms", "available_bandwidth_mbps", "data_size_bytes", "entropy"]:
        a = reference[column].cast(pl.Float64).drop_nulls().to_numpy()
        b = current[column].cast(pl.Float64).drop_nulls().to_numpy()
        ks = stats.ks_2samp(a, b).statistic
        biggest_bin = max(n for _, _, n in ref_p.column(column)["bins"]) / a.size
        assert abs(got(column, "ks") - ks) <= biggest_bin + 1e-9, column
        w = stats.wasserstein_distance(a, b) / a.std(ddof=1)
        bound = 2**-5 * (np.abs(a).mean() + np.abs(b).mean()) / a.std(ddof=1)
        assert abs(got(column, "wasserstein_norm") - w) <= bound, (column, got(column, "wasserstein_norm"), w)
        assert math.isclose(
            got(column, "psi"), psi_by_hand(ref_p, cur_p, column), rel_tol=1e-9, abs_tol=1e-12
        )
    shares = [
        reference["current_compression"].cast(pl.String).value_counts(),
        current["current_compression"].cast(pl.String).value_counts(),
    ]
    p, q = (dict(s.iter_rows()) for s in shares)
    keys = sorted(p)
    js = jensenshannon([p[k] / ROWS for k in keys], [q[k] / ROWS for k in keys])
    assert math.isclose(got("current_compression", "jensen_shannon"), js, rel_tol=1e-9)
    assert math.isclose(
        got("current_compression", "max_share_change"), max(abs(q[k] - p[k]) / ROWS for k in keys)
    )
    assert math.isclose(got("cpu_usage", "missing_change"), 0.3, abs_tol=1e-6)


def psi_by_hand(ref: dwcp_data.Profile, cur: dwcp_data.Profile, column: str) -> float:
    """PSI on ten bins each ending where the reference passes another tenth, from the profiles' bins."""
    r_bins, c_bins = ref.column(column)["bins"], cur.column(column)["bins"]
    r_total, c_total = sum(n for *_, n in r_bins), sum(n for *_, n in c_bins)
    edges, seen = [], 0.0
    for low, _, n in r_bins:
        seen += n / r_total
        if seen >= (len(edges) + 1) / 10 - 1e-12 and len(edges) < 9:
            edges.append(low)

    def buckets(bins: list, total: int) -> list[float]:
        out = [0.0] * (len(edges) + 1)
        for low, _, n in bins:
            out[sum(1 for e in edges if e < low)] += n / total
        return out

    return sum(
        (max(b, 1e-4) - max(a, 1e-4)) * math.log(max(b, 1e-4) / max(a, 1e-4))
        for a, b in zip(buckets(r_bins, r_total), buckets(c_bins, c_total), strict=True)
    )


def test_saved_profiles_are_compared_without_the_data(tmp_path):
    reference = dwcp_data.generate_synthetic(20_000, seed=1, end=END)
    dwcp_data.profile(reference).save(tmp_path / "ref.profile")
    saved = dwcp_data.load_profile(tmp_path / "ref.profile")
    current = injected(dwcp_data.generate_synthetic(20_000, seed=2, end=END))
    assert (
        dwcp_data.drift(current, saved).drifted_columns == dwcp_data.drift(current, reference).drifted_columns
    )
    options = dwcp_data.DriftOptions(
        wasserstein=10, psi=10, jensen_shannon=1, share_change=1, missing_change=1
    )
    assert not dwcp_data.drift(current, saved, options=options).drifted
    with pytest.raises(InvalidArgumentError, match="`psi`"):
        dwcp_data.DriftOptions(psi=0)
    with pytest.raises(InvalidArgumentError, match="`options`"):
        dwcp_data.drift(current, saved, options={"psi": 1})  # type: ignore[arg-type]


def test_the_cli_exits_1_on_drift_and_2_on_bad_input(tmp_path, capsys):
    from dwcp_data.cli import main

    reference = dwcp_data.generate_synthetic(20_000, seed=1, end=END)
    dwcp_data.write_training_data(reference, tmp_path / "ref.parquet")
    dwcp_data.profile(reference).save(tmp_path / "ref.profile")
    dwcp_data.write_training_data(
        injected(dwcp_data.generate_synthetic(20_000, seed=2, end=END)), tmp_path / "cur"
    )
    assert main(["drift", str(tmp_path / "ref.parquet"), str(tmp_path / "ref.profile")]) == 0
    capsys.readouterr()
    page = tmp_path / "drift.html"
    assert (
        main(["drift", str(tmp_path / "cur"), str(tmp_path / "ref.profile"), "--json", "--html", str(page)])
        == 1
    )
    assert 'data-column="rtt_ms"' in page.read_text()
    report = __import__("json").loads(capsys.readouterr().out)
    assert report["drifted"] and {"group": "wan", "column": "rtt_ms"} in report["drifted_columns"]
    (tmp_path / "bad.profile").write_text("{}")
    assert main(["drift", str(tmp_path / "cur"), str(tmp_path / "bad.profile")]) == 2


def _chromium(*args: str) -> subprocess.CompletedProcess:
    """Debian's headless chromium with every network request failing (an air-gapped cluster)."""
    command = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.slow
def test_the_html_report_opens_in_a_browser_without_network(tmp_path, sides):
    reference, current = sides
    report = dwcp_data.drift(injected(current), reference)
    page = report.to_html(tmp_path / "drift.html", extra={"Cleaning": {"duplicates removed": 3}})
    assert page.stat().st_size < 2_000_000
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text  # nothing to fetch
    shown = _chromium("--dump-dom", page.as_uri())
    assert "CONSOLE" not in shown.stderr, shown.stderr[-2000:]
    dom = shown.stdout
    for column in reference.columns:  # every column has its chart, drifted ones first
        assert f'data-column="{column}"' in dom, column
    assert dom.index('data-column="cpu_usage"') < dom.index('data-column="active_transfers"')
    assert "Drift in 3 column(s)" in dom and "duplicates removed" in dom
    shot = ARTIFACTS / "drift-report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    _chromium("--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
def test_the_html_report_stays_small_at_ten_million_rows(tmp_path):
    profiles = [
        dwcp_data.profile(dwcp_data.generate_synthetic(10_000_000, seed=s, end=END, freq="100ms"))
        for s in (1, 2)
    ]
    page = dwcp_data.drift(profiles[1], profiles[0]).to_html(tmp_path / "drift.html")
    assert page.stat().st_size < 2_000_000
