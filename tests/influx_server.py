"""A real ``influxd`` (Debian's 1.6.7) on a free loopback port, for the tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  cache-max-memory-size = {cache_max}
  cache-snapshot-memory-size = {cache_snapshot}
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  auth-enabled = {auth}
  max-row-limit = {max_rows}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InfluxServer:
    """``influxd`` with its own config and data folder; ``url`` once started."""

    def __init__(
        self,
        *,
        max_row_limit: int = 0,
        auth: bool = False,
        cache_max_memory: int = 1 << 30,
        cache_snapshot_memory: int = 25 << 20,
    ) -> None:
        """The defaults are influxd's own; a small ``cache_max_memory`` makes
        fast writers meet "cache-max-memory-size exceeded"."""
        binary = shutil.which("influxd")
        assert binary, "influxd is missing: tests/run.sh installs Debian's influxdb package"
        self.root = Path(tempfile.mkdtemp(prefix="influxd-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = self.root / "influxd.conf"
        config.write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                rpc=free_port(),
                auth="true" if auth else "false",
                max_rows=max_row_limit,
                cache_max=cache_max_memory,
                cache_snapshot=cache_snapshot_memory,
            )
        )
        self.log = open(self.root / "influxd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([binary, "-config", str(config)], stdout=self.log, stderr=self.log)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.root / "influxd.log").read_text()
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as r:
                    if r.status == 204:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        raise AssertionError("influxd did not answer /ping within 30 s")

    def query(self, q: str, **params: str) -> bytes:
        """Run InfluxQL ``q``; ``params`` (``db``, ``u``, ``p``, …) go in the URL."""
        url = f"{self.url}/query?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, data=urllib.parse.urlencode({"q": q}).encode(), timeout=30) as r:
            return r.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
