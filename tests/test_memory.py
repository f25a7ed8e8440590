"""Zero copy: generating 10M rows costs no more memory than the frame itself."""

from __future__ import annotations

import json

import pytest

from helpers import run_python

CODE = """
import json, resource
import dwcp_data
dwcp_data.generate_synthetic(1000)  # warm up: thread pools and lazy statics
def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
baseline = rss_kib()
df = dwcp_data.generate_synthetic(10_000_000, seed=1)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"baseline": baseline * 1024, "peak": peak * 1024, "size": df.estimated_size()}))
"""


@pytest.mark.slow
def test_peak_rss_of_10m_rows_stays_within_1_2x_the_frame():
    m = json.loads(run_python(CODE))
    extra = m["peak"] - m["baseline"]
    assert m["size"] > 2_000_000_000  # the frame is real: ~2.7 GB
    assert extra <= 1.2 * m["size"], (
        f"peak {extra / 2**20:.0f} MiB over baseline for a {m['size'] / 2**20:.0f} MiB frame"
    )
