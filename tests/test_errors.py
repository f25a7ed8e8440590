"""Exceptions: every dwcp_data error survives pickling, as process pools and Airflow executors need."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import dwcp_data
from dwcp_data import errors

from helpers import END, raise_data_error

EXAMPLES = [
    errors.DwcpDataError("base"),
    errors.InvalidArgumentError("bad n", param="n"),
    errors.DataError("bad value", column="rtt_ms", row=7, rule="rtt_ms_range"),
    errors.CsvError("f.csv, line 3: bad", path="f.csv", line=3, column="rtt_ms"),
    errors.ValidationError("failed", report=dwcp_data.validate(dwcp_data.generate_synthetic(10, end=END))),
    errors.InfluxError("http://h:1: down", url="http://h:1", kind="unreachable"),
    errors.InternalError("internal"),
    errors.InsufficientMemoryError("too large", needed=10**12, limit=2**34),
]


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error) and copy.args == error.args
    state = {k: v for k, v in vars(error).items() if k != "report"}
    assert {k: v for k, v in vars(copy).items() if k != "report"} == state
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
