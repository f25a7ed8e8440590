"""generate_synthetic: arguments, types, timestamps, determinism."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

import dwcp_data
from dwcp_data.errors import DwcpDataError, InvalidArgumentError

from helpers import END, run_python


def test_frame_has_the_schema(end):
    df = dwcp_data.generate_synthetic(1000, end=end)
    assert df.schema == dwcp_data.SCHEMA
    assert df.height == 1000
    assert df.null_count().sum_horizontal().item() == 0


def test_default_is_100k_rows():
    assert dwcp_data.generate_synthetic().height == 100_000


def test_timestamps_ascend_by_freq_to_end(end):
    df = dwcp_data.generate_synthetic(50, end=end, freq="15m")
    ts = df["timestamp"]
    assert ts[-1] == end
    assert ts.diff().drop_nulls().unique().to_list() == [timedelta(minutes=15)]


def test_default_end_is_now_truncated_to_the_second():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    last = dwcp_data.generate_synthetic(3)["timestamp"][-1]
    after = datetime.now(timezone.utc)
    assert before <= last <= after and last.microsecond == 0


def test_end_in_another_zone_and_naive_end_are_utc(end):
    cet = end.astimezone(timezone(timedelta(hours=1)))
    assert dwcp_data.generate_synthetic(2, end=cet)["timestamp"][-1] == end
    assert dwcp_data.generate_synthetic(2, end=end.replace(tzinfo=None))["timestamp"][-1] == end


@pytest.mark.parametrize(
    ("freq", "step"),
    [
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("2d", timedelta(days=2)),
        (timedelta(seconds=7), timedelta(seconds=7)),
    ],
)
def test_freq_forms(freq, step, end):
    ts = dwcp_data.generate_synthetic(3, end=end, freq=freq)["timestamp"]
    assert ts[1] - ts[0] == step


def test_az_is_region_plus_letter(end):
    df = dwcp_data.generate_synthetic(10_000, end=end)
    assert df.select((pl.col("az").str.head(-1) == pl.col("region")).all()).item()
    assert set(df["az"].str.tail(1).unique()) == {"a", "b", "c"}


def test_zero_rows(end):
    df = dwcp_data.generate_synthetic(0, end=end)
    assert df.height == 0 and df.schema == dwcp_data.SCHEMA


def test_same_seed_same_frame_and_other_seed_other_frame(end):
    a = dwcp_data.generate_synthetic(40_000, seed=5, end=end)
    assert a.equals(dwcp_data.generate_synthetic(40_000, seed=5, end=end))
    assert not a.equals(dwcp_data.generate_synthetic(40_000, seed=6, end=end))


def test_bit_identical_across_thread_counts():
    code = (
        "import dwcp_data, hashlib, polars as pl; from datetime import datetime\n"
        f"df = dwcp_data.generate_synthetic(300_000, seed=9, end=datetime.fromisoformat({END.isoformat()!r}))\n"
        "h = hashlib.sha256()\n"
        "for s in df.select(pl.all().to_physical()).iter_columns():\n"
        "    h.update(s.to_numpy().tobytes() if s.dtype.is_numeric() else '\\n'.join(s).encode())\n"
        "print(h.hexdigest())\n"
    )
    one = run_python(code, env={"RAYON_NUM_THREADS": "1"})
    two = run_python(code, env={"RAYON_NUM_THREADS": "2"})
    assert one == two and len(one.strip()) == 64


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"n": -1}, "n"),
        ({"n": 1.5}, "n"),
        ({"n": True}, "n"),
        ({"n": "10"}, "n"),
        ({"n": None}, "n"),
        ({"n": 10**12}, "n"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"seed": 4.2}, "seed"),
        ({"freq": "abc"}, "freq"),
        ({"freq": "1 hour"}, "freq"),
        ({"freq": "1mo"}, "freq"),
        ({"freq": "0h"}, "freq"),
        ({"freq": timedelta(0)}, "freq"),
        ({"freq": timedelta(hours=-1)}, "freq"),
        ({"freq": 3600}, "freq"),
        ({"end": "2025-01-01"}, "end"),
        ({"end": date(2025, 1, 1)}, "end"),
        ({"end": 1700000000}, "end"),
        # timestamps outside what InfluxDB stores (1677-09-21 .. 2262-04-11)
        ({"end": datetime(1, 1, 1, tzinfo=timezone.utc)}, "end"),
        ({"end": datetime(2262, 4, 12, tzinfo=timezone.utc)}, "end"),
        ({"n": 1000, "freq": "100000w"}, "n"),
        ({"n": 4_000_000}, "n"),  # 4M hours back from now: before 1677
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, param):
    args = {"n": 10, **kwargs}
    with pytest.raises(InvalidArgumentError) as info:
        dwcp_data.generate_synthetic(**args)
    assert info.value.param == param
    assert f"`{param}`" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DwcpDataError)


def test_iter_synthetic_shards_add_up_to_the_frame(end):
    shards = list(dwcp_data.iter_synthetic(50_000, shard_rows=17_000, seed=3, end=end))
    assert [s.height for s in shards] == [17_000, 17_000, 16_000]
    assert pl.concat(shards).equals(dwcp_data.generate_synthetic(50_000, 3, end=end))
    with pytest.raises(InvalidArgumentError) as info:
        dwcp_data.iter_synthetic(10, shard_rows=0)
    assert info.value.param == "shard_rows"


@pytest.mark.slow
def test_ctrl_c_stops_a_long_call_between_chunks():
    code = (
        "import time, dwcp_data\n"
        "print('started', flush=True)\n"
        "started = time.perf_counter()\n"
        "try:\n"
        "    dwcp_data.generate_synthetic(12_000_000, seed=1, freq='1s')\n"
        "    print('finished', time.perf_counter() - started, flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', time.perf_counter() - started, flush=True)\n"
        "print('usable', dwcp_data.generate_synthetic(1000, seed=1).height, flush=True)\n"
    )
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}  # one thread: 12M rows take seconds
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    what, seconds = out.splitlines()[0].split()
    assert what == "interrupted" and float(seconds) < 1.5, out
    assert out.splitlines()[1] == "usable 1000"  # later calls are not cancelled
