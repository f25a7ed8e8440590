"""The HTTP layer of dwcp_data.influx against hostile servers: redirects, TLS,
odd ``Retry-After`` values, credentials in URLs, out-of-range settings."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import http.server
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import dwcp_data
from dwcp_data import influx
from dwcp_data.errors import InfluxError, InvalidArgumentError
from dwcp_data.influx.transport import _retry_after

from helpers import END

START = END - dt.timedelta(days=1)


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with ``answer`` (status, headers, body) and records it."""

    answer: ClassVar[tuple[int, dict[str, str], bytes]] = (204, {}, b"")

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.seen.append((self.command, self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        status, headers, payload = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _handle


class Server:
    """A loopback HTTP(S) server whose answer a test sets, and what it received."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.httpd.seen = []  # type: ignore[attr-defined]
        self.httpd.answer = (204, {}, b"")  # type: ignore[attr-defined]
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def seen(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        return self.httpd.seen  # type: ignore[attr-defined, no-any-return]

    def answer(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.httpd.answer = (status, headers or {}, body)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def servers() -> Iterator[tuple[Server, Server]]:
    """Two servers: the one named, and another host a redirect may point at."""
    first, other = Server(), Server()
    yield first, other
    first.close()
    other.close()


def frame():
    return dwcp_data.generate_synthetic(50, seed=3, end=END)


SECRET = "s3cr3t-t0ken"


def calls(url: str) -> dict[str, object]:
    """Every kind of request the package makes, each with credentials."""
    return {
        "write 1.x": lambda: influx.write_metrics(frame(), url=url, database="d", token=f"user:{SECRET}"),
        "write 2.x": lambda: influx.write_metrics(frame(), url=url, bucket="b", org="o", token=SECRET),
        "export 1.x": lambda: influx.export_metrics(
            url=url, database="d", username="user", password=SECRET, start=START, end=END
        ),
        "export 2.x": lambda: influx.export_metrics(url=url, bucket="b", token=SECRET, start=START, end=END),
    }


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_no_redirect_is_followed_and_no_credential_leaves(servers, status):
    first, other = servers
    first.answer(status, {"Location": f"{other.url}/write?db=d"})
    for name, call in calls(first.url).items():
        with pytest.raises(InfluxError) as info:
            call()
        assert info.value.kind == "redirect", name
        assert f"{other.url}/write?db=d" in str(info.value) and SECRET not in str(info.value), name
    assert other.seen == [], "a request reached the host the redirect named"
    # every request went to the named server once (a redirect is not retried), POSTs with their body
    assert {method for method, *_ in first.seen} == {"GET", "POST"}
    assert all(body for method, _, _, body in first.seen if method == "POST")


def test_a_redirect_location_with_credentials_is_shown_without_them(servers):
    first, _ = servers
    first.answer(302, {"Location": "http://admin:hunter2@elsewhere:8086/write"})
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(frame(), url=first.url, database="d")
    assert "hunter2" not in str(info.value) and "http://elsewhere:8086/write" in str(info.value)


@pytest.mark.parametrize(
    "retry_after",
    [
        "garbage",
        "nan",
        "inf",
        "-5",
        "1e400",
        "Wed, 21 Oct 2015 07:28:00 GMT",  # a date in the past: no wait
        "",
    ],
)
def test_odd_retry_after_values_are_no_hint(servers, retry_after):
    first, _ = servers
    first.answer(503, {"Retry-After": retry_after})
    started = time.monotonic()
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(frame(), url=first.url, database="d", timeout=1.0)
    assert info.value.kind == "timeout" and time.monotonic() - started < 5
    assert info.value.report is not None, "the write's report of what landed is kept"


def test_a_retry_after_date_is_read_as_the_wait_it_asks_for(servers):
    first, _ = servers
    first.answer(429, {"Retry-After": email.utils.formatdate(time.time() + 30, usegmt=True)})
    started = time.monotonic()
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(frame(), url=first.url, database="d", timeout=1.5)
    # the date asks for more than the budget left: no wait that passes the deadline, one request
    assert info.value.kind == "timeout" and len(first.seen) == 1
    assert time.monotonic() - started < 1.5
    assert 25 < _retry_after(email.utils.formatdate(time.time() + 30, usegmt=True)) <= 30
    assert _retry_after("2.5") == 2.5


# --- TLS ----------------------------------------------------------------------------------------


def _certificate(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signed for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    now = dt.datetime.now(dt.timezone.utc)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("dwcp test CA"))
        .issuer_name(name("dwcp test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp / "ca.pem", tmp / "server.pem", tmp / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture()
def tls_server(tmp_path) -> Iterator[tuple[Server, Path]]:
    ca, cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Server(tls=context)
    yield server, ca
    server.close()


def test_a_certificate_that_does_not_verify_fails_at_once_as_tls(tls_server):
    server, _ = tls_server
    started = time.monotonic()
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(frame(), url=server.url, database="d", token=SECRET, retries=5)
    assert info.value.kind == "tls" and "ca_bundle" in str(info.value)
    assert time.monotonic() - started < 2, "a certificate failure is not retried"
    assert SECRET not in str(info.value)


def test_a_ca_bundle_or_no_verification_reaches_a_tls_server(tls_server):
    server, ca = tls_server
    assert influx.write_metrics(frame(), url=server.url, database="d", ca_bundle=str(ca)).points == 50
    assert influx.write_metrics(frame(), url=server.url, database="d", verify=False).points == 50
    assert len(server.seen) == 2


def test_an_https_server_redirecting_to_http_sends_nothing_there(tls_server, servers):
    server, ca = tls_server
    _, plain = servers
    server.answer(307, {"Location": f"{plain.url}/write"})
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(frame(), url=server.url, database="d", token=SECRET, ca_bundle=str(ca))
    assert info.value.kind == "redirect" and plain.seen == []


def test_tls_settings_are_checked(tmp_path):
    with pytest.raises(InvalidArgumentError) as info:
        influx.Connection("https://x", database="d", ca_bundle=str(tmp_path / "missing.pem"))
    assert info.value.param == "ca_bundle"
    with pytest.raises(InvalidArgumentError) as info:
        influx.Connection("https://x", database="d", verify="no")  # type: ignore[arg-type]
    assert info.value.param == "verify"


# --- URLs, credentials and settings ---------------------------------------------------------------


@pytest.mark.parametrize("password", ["pa/ss", "pa#ss", "pa?ss", "p@ss", "a/b?c#d@e"])
def test_a_password_with_url_delimiters_never_shows(password):
    conn = influx.Connection(f"http://admin:{password}@127.0.0.1:9/", database="d", timeout=0.5, retries=0)
    assert conn.url == "http://127.0.0.1:9/" and conn.password == password and conn.username == "admin"
    assert password not in repr(conn)
    with pytest.raises(InfluxError) as info:
        influx.export_metrics(url=f"http://admin:{password}@127.0.0.1:9", database="d", start=START, end=END)
    assert password not in str(info.value) and info.value.kind in ("unreachable", "timeout")


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://host:99999", "http://host:port", "http://", "http://:80"]
)
def test_urls_that_are_not_urls_are_refused_by_name(url):
    with pytest.raises(InvalidArgumentError) as info:
        influx.Connection(url, database="d")
    assert info.value.param == "url"


@pytest.mark.parametrize("timeout", [1e10, float("inf"), float("nan"), 0, -1])
def test_timeouts_out_of_range_are_refused_by_name(timeout):
    with pytest.raises(InvalidArgumentError) as info:
        influx.Connection("http://127.0.0.1:9", database="d", timeout=timeout)
    assert info.value.param == "timeout"
    with pytest.raises(InvalidArgumentError):
        influx.export_metrics(url="http://127.0.0.1:9", database="d", start=START, end=END, timeout=timeout)


def test_the_cli_takes_a_ca_bundle_and_names_a_certificate_failure(tls_server, tmp_path):
    server, ca = tls_server
    source = dwcp_data.write_training_data(frame(), tmp_path / "in.parquet")
    exe = shutil.which("dwcp-data")
    assert exe
    base = [exe, "ingest", str(source), "--influx-url", server.url, "--database", "d", "--json"]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "TLS failed" in refused.stderr and "Traceback" not in refused.stderr
    trusted = subprocess.run([*base, "--ca-bundle", str(ca)], capture_output=True, text=True, timeout=60)
    assert trusted.returncode == 0 and json.loads(trusted.stdout)["points"] == 50, trusted.stderr
    unverified = subprocess.run([*base, "--no-verify-tls"], capture_output=True, text=True, timeout=60)
    assert unverified.returncode == 0, unverified.stderr


# --- one configuration object ---------------------------------------------------------------------


def test_a_connection_from_the_environment_the_official_clients_read(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    v2 = {
        "INFLUXDB_V2_URL": "https://influx.example:8086",
        "INFLUXDB_V2_TOKEN": SECRET,
        "INFLUXDB_V2_ORG": "acme",
        "INFLUXDB_V2_TIMEOUT": "30000",
        "INFLUXDB_V2_VERIFY_SSL": "False",
        "INFLUXDB_V2_SSL_CA_CERT": str(ca),
        "INFLUX_BUCKET": "metrics",
    }
    conn = influx.Connection.from_env(v2)
    assert (conn.url, conn.bucket, conn.org, conn.token) == (
        "https://influx.example:8086",
        "metrics",
        "acme",
        SECRET,
    )
    assert (conn.timeout, conn.verify, conn.ca_bundle, conn.database) == (30.0, False, str(ca), None)
    assert SECRET not in repr(conn)
    # the influx CLI's names win; a keyword given wins over both; a database given wins over a bucket found
    cli = {
        **v2,
        "INFLUX_HOST": "http://other:8086",
        "INFLUX_TOKEN": "cli-token",
        "INFLUX_SKIP_VERIFY": "false",
    }
    conn = influx.Connection.from_env(cli, token="flag-token", database="dwcp")
    assert (conn.url, conn.token, conn.verify, conn.database, conn.bucket) == (
        "http://other:8086",
        "flag-token",
        True,
        "dwcp",
        None,
    )
    one_x = {
        "INFLUX_HOST": "http://h:8086",
        "INFLUX_DATABASE": "db",
        "INFLUX_USERNAME": "u",
        "INFLUX_PASSWORD": "p",
    }
    conn = influx.Connection.from_env(one_x)
    assert (conn.database, conn.username, conn.password) == ("db", "u", "p")
    with pytest.raises(InvalidArgumentError) as info:
        influx.Connection.from_env({})
    assert info.value.param == "url"
    with pytest.raises(InvalidArgumentError) as info:
        influx.Connection.from_env(
            {"INFLUX_HOST": "http://h", "INFLUX_BUCKET": "b", "INFLUX_SKIP_VERIFY": "maybe"}
        )
    assert info.value.param == "verify"


def test_the_writers_and_exports_take_one_connection_object(servers):
    first, _ = servers
    policy = influx.RetryPolicy(retries=0, timeout=2.0, first_wait=0.01, max_wait=0.02)
    conn = influx.Connection(first.url, database="d", token=SECRET, retry=policy)
    assert (conn.timeout, conn.retries, conn.retry_policy) == (2.0, 0, policy)
    assert influx.write_metrics(frame(), connection=conn).points == 50
    first.answer(500, {}, b'{"error": "boom"}')
    with pytest.raises(InfluxError) as info:  # retries=0: one request, then the error
        influx.write_metrics(frame(), connection=conn)
    assert info.value.kind == "server"
    assert len(first.seen) == 2 and first.seen[0][2]["Authorization"] == f"Token {SECRET}"
    with pytest.raises(InvalidArgumentError) as info:
        influx.write_metrics(frame(), connection=conn, url=first.url)
    assert info.value.param == "url"
    with pytest.raises(InvalidArgumentError) as info:
        influx.export_metrics(connection=conn, start=START, end=END, token="t")
    assert info.value.param == "token"
    with pytest.raises(InvalidArgumentError) as info:
        influx.write_metrics(frame())
    assert info.value.param == "url"
    with pytest.raises(InvalidArgumentError) as info:
        influx.Connection(first.url, database="d", retry=policy, timeout=5)
    assert info.value.param == "retry"


def test_the_cli_reads_secrets_from_the_environment(servers, tmp_path):
    first, _ = servers
    source = dwcp_data.write_training_data(frame(), tmp_path / "in.parquet")
    exe = shutil.which("dwcp-data")
    assert exe
    env = {**os.environ, "INFLUX_HOST": first.url, "INFLUX_DATABASE": "d", "INFLUX_TOKEN": f"u:{SECRET}"}
    proc = subprocess.run(
        [exe, "ingest", str(source), "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    (_, path, headers, _) = first.seen[0]
    assert (
        "db=d" in path
        and headers["Authorization"] == "Basic " + base64.b64encode(f"u:{SECRET}".encode()).decode()
    )
