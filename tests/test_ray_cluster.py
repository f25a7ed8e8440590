"""The Ray engine on a two-node cluster (both nodes on this machine's loopback):
a whole node removed during a pass, the same output as on one machine."""

from __future__ import annotations

import json

import pytest

from helpers import run_python

pytest.importorskip("ray", reason="the Ray engine needs the extra dwcp-data[ray]")

pytestmark = pytest.mark.slow

#: Runs in a process of its own (a cluster of its own, apart from test_ray's local Ray).
NODE_LOST = """
import json, sys, threading, time
from pathlib import Path
import polars as pl
import ray
import psutil
from ray.cluster_utils import Cluster
import dwcp_data, dwcp_data.datasets.cleaner

tmp = Path(sys.argv[1])
dwcp_data.datasets.cleaner.SLICE_ROWS = 5_000  # several slices a block: passes take a while
df = dwcp_data.generate_synthetic(400_000, seed=9)
df = pl.concat([df, df.slice(1000, 3000)])
shards = tmp / "in"
dwcp_data.write_training_data(df, shards, shard_rows=10_000)
node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 150 << 20}
cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
worker = cluster.add_node(**node)
engine = dwcp_data.RayEngine(address=cluster.address)  # the stage joins the cluster
result = {}

def clean():
    try:
        result["report"] = dwcp_data.clean_dataset(shards, tmp / "ray", by="link_type", engine=engine).to_dict()
    except BaseException as exc:
        result["error"] = repr(exc)

thread = threading.Thread(target=clean)
thread.start()
# wait until the worker node runs tasks, then take it away, node and all
deadline = time.monotonic() + 120
raylet = psutil.Process(worker.all_processes["raylet"][0].process.pid)

def running_on_worker():
    names = [" ".join(p.cmdline()) for p in raylet.children(recursive=True) if p.is_running()]
    return [n for n in names if n.startswith("ray::") and not n.startswith("ray::IDLE") and "kernel" in n]

seen = []
while time.monotonic() < deadline and thread.is_alive() and not seen:
    seen = running_on_worker()
    time.sleep(0.02)
removed = thread.is_alive()
cluster.remove_node(worker, allow_graceful=False)
thread.join()
ray.shutdown()
cluster.shutdown()
local = dwcp_data.clean_dataset(shards, tmp / "local", by="link_type").to_dict()
same = dwcp_data.read_training_data(tmp / "ray").equals(dwcp_data.read_training_data(tmp / "local"))
print(json.dumps({"removed_mid_run": removed, "kernel_on_the_node": bool(seen), "error": result.get("error"), "same_rows": same,
                  "same_report": result.get("report") == local}))
"""


def test_a_node_removed_mid_pass_changes_nothing(tmp_path):
    out = run_python(NODE_LOST.replace("sys.argv[1]", repr(str(tmp_path))), timeout=600)
    got = json.loads(out.strip().splitlines()[-1])
    assert got == {
        "removed_mid_run": True,
        "kernel_on_the_node": True,
        "error": None,
        "same_rows": True,
        "same_report": True,
    }
