"""Shared fixtures. The tests run against the installed ``dwcp_data`` wheel."""

from __future__ import annotations

import os
from datetime import datetime

import pytest

from helpers import END
from influx_server import InfluxServer

# Every Ray node and driver the tests start (here and in child processes) takes
# the loopback address as its own: on Linux Ray otherwise swaps 127.0.0.1 for
# the machine's outward address, and test traffic must stay on loopback.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
# A test cluster on loopback, whose nodes and drivers keep their auth tokens in
# temporary folders of their own: no token authentication between them.
os.environ["RAY_AUTH_MODE"] = "disabled"


@pytest.fixture(scope="session")
def end() -> datetime:
    return END


@pytest.fixture(scope="session")
def influxd():
    """A real InfluxDB 1.6.7 server with database ``metrics``."""
    server = InfluxServer()
    server.query("CREATE DATABASE metrics")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxd_limited():
    """A server whose non-chunked queries are cut at 1,000 rows (``max-row-limit``)."""
    server = InfluxServer(max_row_limit=1000)
    server.query("CREATE DATABASE metrics")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxd_auth():
    """A server with authentication; user ``admin``, password ``secret``."""
    server = InfluxServer(auth=True)
    server.query("CREATE USER admin WITH PASSWORD 'secret' WITH ALL PRIVILEGES")
    server.query("CREATE DATABASE metrics", u="admin", p="secret")
    yield server
    server.stop()
