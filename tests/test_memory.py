"""Zero copy: generating 10M rows costs no more memory than the frame itself."""

from __future__ import annotations

import json

import pytest

from helpers import run_python

CODE = """
import json, resource
import dwcp_data
import polars as pl
dwcp_data.generate_synthetic(1000)  # warm up: thread pools and lazy statics
def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
baseline = rss_kib()
df = dwcp_data.generate_synthetic(10_000_000, seed=1)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# The frame's real buffers: estimated_size() leaves out the 16-byte views of String columns.
size = df.to_arrow(compat_level=pl.CompatLevel.newest()).get_total_buffer_size()
print(json.dumps({"baseline": baseline * 1024, "peak": peak * 1024, "size": size}))
"""


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


READ_IN_PLACE = """
import json
import dwcp_data
df = dwcp_data.generate_synthetic(10_000_000, seed=1)
dwcp_data.validate(df.head(1000))  # warm up
def status_kib(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS
before = status_kib("VmRSS")
assert dwcp_data.validate(df, profile="strict").passed
peak = status_kib("VmHWM")
print(json.dumps({"before": before * 1024, "peak": peak * 1024, "size": df.estimated_size()}))
"""


@pytest.mark.slow
def test_frames_passed_in_are_read_in_place():
    m = json.loads(run_python(READ_IN_PLACE))
    # A copy of the frame on the way in would add ~2.3 GB; validation's own buffers are small.
    assert m["peak"] - m["before"] < 0.05 * m["size"], f"{(m['peak'] - m['before']) / 2**20:.0f} MiB extra"
