"""Zero copy: generating 10M rows costs no more memory than the frame itself; a frame or
matrix larger than the machine is refused before anything is allocated."""

from __future__ import annotations

import json

import pytest

from helpers import STATUS_KIB, run_python

CODE = (
    STATUS_KIB
    + """
import json
import dwcp_data
import polars as pl
dwcp_data.generate_synthetic(1000)  # warm up: thread pools and lazy statics
baseline = status_kib("VmRSS")
df = dwcp_data.generate_synthetic(10_000_000, seed=1, freq="1s")
peak = status_kib("VmHWM")
# The frame's real buffers: estimated_size() leaves out the 16-byte views of String columns.
size = df.to_arrow(compat_level=pl.CompatLevel.newest()).get_total_buffer_size()
print(json.dumps({"baseline": baseline * 1024, "peak": peak * 1024, "size": size}))
"""
)


@pytest.mark.slow
def test_peak_rss_of_10m_rows_stays_within_1_25x_the_frame():
    m = json.loads(run_python(CODE))
    extra = m["peak"] - m["baseline"]
    assert m["size"] > 2_500_000_000  # the frame is real: ~2.75 GB of buffers
    # Measured 1.00x here and up to 1.18x under CI (allocator and page
    # behaviour vary by machine); a copy of the frame anywhere would make it 2x.
    assert extra <= 1.25 * m["size"], (
        f"peak {extra / 2**20:.0f} MiB over baseline for a {m['size'] / 2**20:.0f} MiB frame"
    )


READ_IN_PLACE = (
    STATUS_KIB
    + """
import json
import dwcp_data
df = dwcp_data.generate_synthetic(10_000_000, seed=1, freq="1s")
dwcp_data.validate(df.head(1000))  # warm up
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS
before = status_kib("VmRSS")
assert dwcp_data.validate(df, profile="strict").passed
peak = status_kib("VmHWM")
print(json.dumps({"before": before * 1024, "peak": peak * 1024, "size": df.estimated_size()}))
"""
)


@pytest.mark.slow
def test_frames_passed_in_are_read_in_place():
    m = json.loads(run_python(READ_IN_PLACE))
    # A copy of the frame on the way in would add ~2.3 GB; validation's own buffers are small.
    assert m["peak"] - m["before"] < 0.05 * m["size"], f"{(m['peak'] - m['before']) / 2**20:.0f} MiB extra"


TOO_LARGE = (
    STATUS_KIB
    + """
import json, os, pickle, time
import polars as pl
import dwcp_data
from dwcp_data.errors import InsufficientMemoryError
floats = int(os.environ["FLOAT_COLUMNS"])
enum = lambda name, value, categories: pl.lit(value).cast(pl.Enum(categories)).alias(name)
# 4e9 rows of constants: polars keeps them as scalars, so the frame itself costs nothing.
tall = pl.DataFrame(height=4_000_000_000).with_columns(
    enum("link_type", "dc", dwcp_data.LINK_TYPES),
    enum("data_type", "database", dwcp_data.DATA_TYPES),
    enum(dwcp_data.LABEL_COLUMN, "hde", dwcp_data.COMPRESSIONS),
    *(pl.lit(0.5).alias(f"f{i}") for i in range(floats)),
)
calls = {
    "features": lambda: dwcp_data.features(
        tall, columns=[f"f{i}" for i in range(floats)] + ["link_type", "data_type"]
    ),
}
if os.environ["GENERATE"] == "1":
    calls["generate"] = lambda: dwcp_data.generate_synthetic(1_000_000_000, freq="1ms")
out = {}
for name, call in calls.items():
    started = time.perf_counter()
    try:
        call()
        out[name] = None
    except InsufficientMemoryError as e:
        copy = pickle.loads(pickle.dumps(e))
        out[name] = [str(copy), copy.needed, copy.limit, isinstance(copy, MemoryError), time.perf_counter() - started]
out["peak"] = status_kib("VmHWM") * 1024
print(json.dumps(out))
"""
)


def _ram_and_swap() -> int:
    """This machine's RAM plus swap, in bytes (a container's limit can only be lower)."""
    with open("/proc/meminfo") as f:
        kib = {line.split(":")[0]: int(line.split()[1]) for line in f}
    return (kib["MemTotal"] + kib["SwapTotal"]) * 1024


def test_frames_and_matrices_larger_than_the_machine_are_refused_before_allocating():
    machine = _ram_and_swap()
    rows = 4_000_000_000
    # The 2 one-hot columns make 6 float32 cells a row (96 GB); constant float
    # columns widen the matrix past whatever this machine holds.
    floats = max(0, machine // (rows * 4) + 1 - 6)
    needed = {"features": rows * 4 * (floats + 6)}
    # 1e9 generated rows (the most generate_synthetic takes) are 275 GB: more than
    # CI's 24 GiB, though not more than every machine.
    if machine < 275_000_000_000:
        needed["generate"] = 275_000_000_000
    env = {"FLOAT_COLUMNS": str(floats), "GENERATE": str(int("generate" in needed))}
    m = json.loads(run_python(TOO_LARGE, env=env, timeout=120))  # a missed refusal gets the child killed
    what = {"generate": "a frame of 1000000000 rows", "features": "the feature matrix"}
    for name, bytes_needed in needed.items():
        message, got_needed, limit, is_memory_error, seconds = m[name]
        assert got_needed == bytes_needed and is_memory_error and limit <= machine
        assert message.startswith(f"{what[name]} needs {bytes_needed / 1e9:.1f} GB of memory, more than the ")
        assert seconds < 5, f"{name} took {seconds:.1f} s to refuse"
    assert m["peak"] < 1 << 30  # nothing was allocated for them
