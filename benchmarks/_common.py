"""Helpers shared by the benchmark scripts: timing, machine description, tables."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The reference implementations (and the test influxd) live with the tests that check them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def generate_shards(folder: Path, rows: int, *options: str) -> float:
    """``dwcp-data generate -n rows [options] --out folder`` run by this
    interpreter's dwcp_data (whatever PATH holds); the seconds it took."""
    started = time.perf_counter()
    # a minute apart unless given: 100M rows then span 190 years, within what timestamps hold
    freq = () if "--freq" in options else ("--freq", "1m")
    command = [sys.executable, "-m", "dwcp_data", "generate", "-n", str(rows), *freq, *options]
    subprocess.run([*command, "--out", str(folder), "--no-progress"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measured(code: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of ``code`` in a fresh interpreter."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {code}")
    return time.perf_counter() - started, usage.ru_maxrss / 2**20


def frame_arguments(
    doc: str | None,
    repeat: int,
    medians_of: str = "",
    more: Callable[[argparse.ArgumentParser], object] | None = None,
) -> argparse.Namespace:
    """The in-memory benchmarks' ``--rows`` (default 10M) and ``--repeat``
    (and what ``more`` adds to the parser), parsed, and their header printed:
    machine, library versions, rows."""
    import numpy as np
    import pandas as pd
    import polars as pl

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=repeat)
    if more is not None:
        more(parser)
    args = parser.parse_args()
    print(
        f"{machine()}; polars {pl.__version__}, pandas {pd.__version__}, numpy {np.__version__}; "
        f"{args.rows:,} rows, median of {args.repeat}{medians_of}"
    )
    return args


def medians(sides: list[tuple[str, Callable[[], object]]], repeat: int) -> list[tuple[str, float]]:
    """:func:`median_seconds` of each ``(name, side)``, one side after the other."""
    return [(name, median_seconds(fn, repeat)) for name, fn in sides]


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn`` (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def interleaved_medians(sides: dict[str, Callable[[], object]], repeat: int) -> list[tuple[str, float]]:
    """Median wall time of each side over ``repeat`` rounds, each round calling every
    side once in turn (after one untimed warm-up call each): a drift in the
    machine's speed then falls on all sides alike instead of on whichever ran
    during it."""
    for fn in sides.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        for name, fn in sides.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return [(name, statistics.median(t)) for name, t in times.items()]


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def print_table(title: str, rows: list[tuple[str, float]], ours: str) -> None:
    """Print timings with each row's ratio to ``ours`` (how many times slower it is)."""
    base = dict(rows)[ours]
    print(f"\n{title}")
    print(f"{'implementation':<34}{'median':>12}{'vs dwcp_data':>16}")
    for name, seconds in rows:
        print(f"{name:<34}{seconds * 1e3:>9.1f} ms{seconds / base:>15.1f}x")


def curl_parallel(config: Path, concurrency: int) -> None:
    """The requests of the curl config file ``config``, ``concurrency`` at a
    time (curl's own ceiling, with no Python in the way)."""
    command = ["curl", "-s", "--no-progress-meter", "--parallel", "--parallel-max", str(concurrency)]
    subprocess.run([*command, "-K", str(config)], check=True)
