"""Exceptions: every dwcp_data error survives pickling, as process pools and Airflow executors need."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import dwcp_data
from dwcp_data import errors

from helpers import END, raise_data_error, run_python

EXAMPLES = [
    errors.DwcpDataError("base"),
    errors.InvalidArgumentError("bad n", param="n"),
    errors.DataError("bad value", column="rtt_ms", row=7, rule="rtt_ms_range"),
    errors.CsvError("f.csv, line 3: bad", path="f.csv", line=3, column="rtt_ms"),
    errors.ValidationError("failed", report=dwcp_data.validate(dwcp_data.generate_synthetic(10, end=END))),
    errors.InfluxError("http://h:1: down", url="http://h:1", kind="unreachable"),
    errors.InternalError("internal"),
    errors.InsufficientMemoryError("too large", needed=10**12, limit=2**34),
    errors.StorageError(
        "/data/x.parquet: writing the file failed: No space left", path="/data/x.parquet", errno=28
    ),
]


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error) and copy.args == error.args
    state = {k: v for k, v in vars(error).items() if k != "report"}
    assert {k: v for k, v in vars(copy).items() if k != "report"} == state
    assert getattr(copy, "errno", None) == getattr(error, "errno", None)  # an OSError's slot
    if isinstance(error, errors.ValidationError):
        assert copy.report.to_dict() == error.report.to_dict()


def test_errors_cross_a_process_pool():
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=context) as pool,
        pytest.raises(errors.DataError) as info,
    ):
        pool.submit(raise_data_error, 5).result(timeout=60)
    assert (info.value.column, info.value.row, info.value.rule) == ("rtt_ms", 5, "rtt_ms_range")


@pytest.mark.slow
def test_a_signal_in_one_thread_cancels_that_threads_call_only():
    code = """
import signal, threading, dwcp_data

class Timeout(Exception):
    pass

def on_alarm(*_):
    raise Timeout()

signal.signal(signal.SIGALRM, on_alarm)
df = dwcp_data.generate_synthetic(3_000_000, seed=1)
started, result = threading.Event(), {}

def worker():
    started.set()
    try:
        result["rows"] = dwcp_data.clean(df).height
    except BaseException as exc:
        result["error"] = type(exc).__name__

thread = threading.Thread(target=worker)
thread.start()
started.wait()
signal.setitimer(signal.ITIMER_REAL, 0.05)
try:
    dwcp_data.generate_synthetic(30_000_000, seed=2, freq="1s")
    print("main finished")
except Timeout:
    print("main timed out")
thread.join()
print(result)
"""
    out = run_python(code).splitlines()
    assert out[0] == "main timed out"
    assert out[1] == str({"rows": dwcp_data.clean(dwcp_data.generate_synthetic(3_000_000, seed=1)).height})


@pytest.mark.slow
def test_ctrl_c_stops_the_duplicate_search_of_clean():
    code = """
import signal, time, dwcp_data
df = dwcp_data.generate_synthetic(12_000_000, seed=1, freq="1s")
options = dict(outlier_columns=[], impute=None)  # the duplicate search only
t = time.perf_counter()
dwcp_data.clean(df, **options)
full = time.perf_counter() - t
fired = []

def on_alarm(*_):
    fired.append(time.perf_counter())
    raise KeyboardInterrupt

signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, full * 0.3)
try:
    dwcp_data.clean(df, **options)
    print("finished", full)
except KeyboardInterrupt:
    print("interrupted", full, time.perf_counter() - fired[0])
"""
    what, full, *after = run_python(code, env={"RAYON_NUM_THREADS": "1"}).split()
    assert what == "interrupted", (full, after)
    assert float(after[0]) < max(0.3, float(full) * 0.25), (full, after)


def test_odd_arguments_and_frames_raise_our_errors_not_those_from_below():
    from datetime import datetime, timedelta

    import polars as pl
    import pyarrow as pa

    df = dwcp_data.generate_synthetic(50, seed=1, end=END)
    labelled = dwcp_data.label_oracle(df)
    twice = pa.table([[1.0, 2.0], [3.0, 4.0]], names=["rtt_ms", "rtt_ms"])
    cases = [
        (
            lambda: dwcp_data.generate_synthetic(10, freq=timedelta(days=999_999_999)),
            errors.InvalidArgumentError,
            "freq",
        ),
        (
            lambda: dwcp_data.generate_synthetic(10, freq="9999999999999999999h"),
            errors.InvalidArgumentError,
            "freq",
        ),
        (lambda: dwcp_data.validate(df, profile=None), errors.InvalidArgumentError, "profile"),
        (lambda: dwcp_data.validate(twice), errors.DataError, "rtt_ms"),
        (lambda: dwcp_data.clean(twice.to_pandas()), errors.DataError, "rtt_ms"),
        (lambda: dwcp_data.clean(pl.LazyFrame({"a": [1]}).select("a", "a")), errors.DataError, ""),
        (
            lambda: dwcp_data.features(labelled.with_columns(pl.lit("zstd").alias("oracle_compression"))),
            errors.DataError,
            "oracle_compression",
        ),
        (
            lambda: dwcp_data.regret(
                labelled.with_columns(pl.lit("zstd").alias("oracle_compression")), "baseline"
            ),
            errors.DataError,
            "oracle_compression",
        ),
    ]
    for call, error, name in cases:
        with pytest.raises(error) as raised:
            call()
        assert getattr(raised.value, "param", getattr(raised.value, "column", None)) == name, raised.value
    naive = dwcp_data.quality_metrics(df, now=datetime(2025, 11, 15, 12, 34, 56))
    assert naive["freshness_hours"] == pytest.approx(24.0)  # a naive `now` is UTC, as validate takes it
