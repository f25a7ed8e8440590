"""Shared fixtures. The tests run against the installed ``dwcp_data`` wheel."""

from __future__ import annotations

from datetime import datetime

import pytest

from helpers import END
from influx_server import InfluxServer


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
