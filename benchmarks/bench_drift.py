"""Drift reports: dwcp_data.drift next to Evidently's DataDriftPreset, on the same 33 columns.

Usage:
  python benchmarks/bench_drift.py                       # 100k and 1M rows a side
  python benchmarks/bench_drift.py --rows 100000 1000000 10000000 --evidently-max-rows 1000000

Two seeds of the generator, the current side drifted on purpose as issue #34
measured it: RTT x1.3 on WAN links, and a fifth of the ``hde`` labels of
``current_compression`` relabelled ``baseline`` (class shares 0.5/0.3/0.2 ->
0.4/0.3/0.3). Both sides are written to Parquet first; each tool then runs in
a process of its own (its peak memory is that process's), reads the two files
and computes its report from the frames, then writes its HTML page. Timed:
the report from frames (reading excluded), and the page.

Evidently needs pandas < 3 and so runs in a venv of its own:
``--evidently-python`` (default ``.bench/evidently/bin/python``, made with
``evidently==0.7.23``, ``pandas<3`` and ``pyarrow`` on first use). Sizes above
``--evidently-max-rows`` are not given to it (at 10M rows a side it was
killed past 21 GiB here, issue #34); dwcp_data also reports drift from its
two saved profiles, the weekly DAG's case.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

import dwcp_data

from _common import machine

EVIDENTLY = "evidently==0.7.23"
ROOT = Path(__file__).resolve().parent.parent

#: Runs in the Evidently venv: argv = reference.parquet current.parquet page.html.
EVIDENTLY_SIDE = """
import json, resource, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

reference, current = (pd.read_parquet(p).drop(columns=["timestamp"]) for p in sys.argv[1:3])
started = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
seconds = time.perf_counter() - started
started = time.perf_counter()
snapshot.save_html(sys.argv[3])
page_seconds = time.perf_counter() - started
values = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type", "").endswith("ValueDrift"):
        values[config["column"]] = (metric["value"], config["threshold"])
drifted = sorted(c for c, (v, t) in values.items() if v >= t)
print(json.dumps({"seconds": seconds, "page_seconds": page_seconds, "drifted": drifted, "columns": len(values),
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

#: Runs in this interpreter: argv = reference.parquet current.parquet page.html work_folder.
DWCP_SIDE = """
import json, resource, sys, time
from pathlib import Path
import polars as pl
import dwcp_data

reference, current = (pl.read_parquet(p) for p in sys.argv[1:3])
work = Path(sys.argv[4])
started = time.perf_counter()
report = dwcp_data.drift(current, reference)
seconds = time.perf_counter() - started
started = time.perf_counter()
report.to_html(sys.argv[3])
page_seconds = time.perf_counter() - started
report.current.save(work / "current.profile")
report.reference.save(work / "reference.profile")
started = time.perf_counter()
saved = dwcp_data.drift(dwcp_data.load_profile(work / "current.profile"),
                        dwcp_data.load_profile(work / "reference.profile"))
saved_seconds = time.perf_counter() - started
assert saved.drifted_columns == report.drifted_columns
print(json.dumps({"seconds": seconds, "page_seconds": page_seconds, "saved_seconds": saved_seconds,
                  "drifted": sorted({c for g, c in report.drifted_columns if g is None}),
                  "drifted_in_groups": sorted({f"{c} [{g}]" for g, c in report.drifted_columns if g is not None}),
                  "columns": len({r["column"] for r in report.rows if r["threshold"] is not None}),
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

#: The columns the injection moves: the rest drifting is a false alarm.
INJECTED = {"rtt_ms", "current_compression"}


def sides(rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The reference (seed 1) and the drifted current side (seed 2)."""
    reference = dwcp_data.generate_synthetic(rows, seed=1, freq="1s")
    current = dwcp_data.generate_synthetic(rows, seed=2, freq="1s")
    row = pl.int_range(pl.len())
    relabel = (pl.col("current_compression") == "hde") & (row % 5 == 0)
    current = current.with_columns(
        pl.when(pl.col("link_type") == "wan").then(pl.col("rtt_ms") * 1.3).otherwise(pl.col("rtt_ms")),
        pl.when(relabel)
        .then(pl.lit("baseline"))
        .otherwise(pl.col("current_compression").cast(pl.String))
        .cast(current["current_compression"].dtype)
        .alias("current_compression"),
    )
    return reference, current


def evidently_python(path: str | None) -> Path:
    """The Evidently venv's interpreter, the venv made first where missing."""
    python = Path(path) if path else ROOT / ".bench" / "evidently" / "bin" / "python"
    if not python.exists():
        if path:
            raise SystemExit(f"--evidently-python {path}: no such interpreter")
        venv = python.parent.parent
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", EVIDENTLY, "pandas<3", "pyarrow"], check=True
        )
    return python


def run_side(python: Path | str, code: str, *args: str) -> dict[str, object] | str:
    """One tool's process: its JSON answer, or why it gave none."""
    started = time.perf_counter()
    proc = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"failed after {time.perf_counter() - started:.0f} s (exit {proc.returncode}): {proc.stderr[-300:]}"
    answer: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--evidently-max-rows", type=int, default=1_000_000)
    parser.add_argument("--evidently-python", default=None)
    args = parser.parse_args()
    python = evidently_python(args.evidently_python)
    version = subprocess.run(
        [str(python), "-c", "import evidently, pandas; print(evidently.__version__, pandas.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    print(f"{machine()}; dwcp_data {dwcp_data.__version__}, Evidently {version[0]} (pandas {version[1]})")
    print()
    print(
        "| tool | rows a side | report from frames | page | peak memory | page size | rtt / class shares found "
        "| false alarms | vs dwcp_data |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |")
    for rows in args.rows:
        reference, current = sides(rows)
        with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
            work = Path(tmp)
            files = [str(work / "reference.parquet"), str(work / "current.parquet")]
            reference.write_parquet(files[0])
            current.write_parquet(files[1])
            del reference, current
            ours = run_side(sys.executable, DWCP_SIDE, *files, str(work / "dwcp.html"), tmp)
            results = [("dwcp_data.drift", ours, work / "dwcp.html")]
            if rows <= args.evidently_max_rows:
                theirs = run_side(python, EVIDENTLY_SIDE, *files, str(work / "evidently.html"))
                results.append(("Evidently DataDriftPreset", theirs, work / "evidently.html"))
            for name, answer, page in results:
                if isinstance(answer, str):
                    print(f"| {name} | {rows:,} | {answer} | | | | | | |")
                    continue
                drifted = set(answer["drifted"])  # type: ignore[arg-type]
                found = " / ".join(
                    "yes" if c in drifted else "**no**" for c in ("rtt_ms", "current_compression")
                )
                alarms = sorted(drifted - INJECTED)
                ratio = (
                    float(answer["seconds"]) / float(ours["seconds"])
                    if isinstance(ours, dict)
                    else float("nan")
                )
                print(
                    f"| {name} | {rows:,} | {answer['seconds']:.2f} s | {answer['page_seconds']:.2f} s "
                    f"| {int(answer['peak']) / 2**30:.2f} GiB | {page.stat().st_size / 1e6:.2f} MB | {found} "
                    f"| {len(alarms)} of {int(answer['columns']) - 2}{': ' + ', '.join(alarms) if alarms else ''} "
                    f"| {ratio:.1f}x |"
                )
            if isinstance(ours, dict):
                print(
                    f"|   dwcp_data, from two saved profiles | {rows:,} | {ours['saved_seconds']:.3f} s | | | | "
                    f"groups: {', '.join(ours['drifted_in_groups']) or '-'} | | |"  # type: ignore[arg-type]
                )


if __name__ == "__main__":
    main()
