"""HTTP to InfluxDB: one request with its retries, waits and deadline
(:class:`RetryPolicy`), the answer read whole, and the server's errors read
into :class:`~dwcp_data.errors.InfluxError` of the right kind."""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import functools
import http.client
import ipaddress
import math
import os
import random
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypedDict

from dwcp_data import _core
from dwcp_data._convert import yes_or_no
from dwcp_data.errors import DataError, InfluxError, InvalidArgumentError
from dwcp_data.influx import _flux

__all__ = ["Connection", "ConnectionSettings", "RetryPolicy"]

_RETRY_STATUS = {429, 500, 502, 503, 504}
#: The longest a request may take in all, retries and waits included (a week):
#: longer is a mistake, and past what sockets and clocks take as a timeout.
MAX_TIMEOUT = 7 * 86_400.0


@dataclass(frozen=True)
class RetryPolicy:
    """How a request to InfluxDB is retried, as influxdb-client's ``WritesRetry``
    puts it: ``retries`` retries after connection errors and 5xx answers, waits
    growing exponentially from ``first_wait`` (each with up to as much again
    of jitter) up to ``max_wait``, the longer of that and the server's
    ``Retry-After``; all of it, the waits and the reading of answers
    included, within ``timeout`` seconds of wall-clock time. A busy server
    (429, 503, a full write cache) is waited for within that budget whatever
    ``retries`` says.
    """

    retries: int = 4
    timeout: float = 120.0
    first_wait: float = 0.1
    max_wait: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidArgumentError.of("retries", f"must be a whole number >= 0, got {self.retries!r}")
        for name in ("timeout", "first_wait", "max_wait"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT:
                raise InvalidArgumentError.of(
                    name, f"must be a positive number of seconds, at most {MAX_TIMEOUT:,.0f}, got {value!r}"
                )

    def _start(self) -> _Attempts:
        """The bookkeeping of one request under this policy, its clock started now."""
        return _Attempts(self, time.monotonic() + self.timeout)

    def backoff(self, waits: int) -> float:
        """The wait before retry number ``waits + 1`` (jitter included)."""
        return float(min(self.max_wait, self.first_wait * 2**waits) * (1 + random.random()))


@dataclass
class _Attempts:
    """One request's failures and waits so far, under ``policy``, until ``deadline``."""

    policy: RetryPolicy
    deadline: float
    failures: int = 0
    waits: int = 0

    def remaining(self) -> float:
        """Seconds left (at least a millisecond: a timeout of 0 means none to sockets)."""
        return max(self.deadline - time.monotonic(), 0.001)

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self.deadline

    def failed(self) -> bool:
        """Counts a failure; whether a retry is left for it."""
        self.failures += 1
        return self.failures <= self.policy.retries

    def wait(self, at_least: float) -> bool:
        """Sleeps before the next try (at least ``at_least`` seconds, the
        server's ``Retry-After``); ``False``, without sleeping, when the wait
        would pass the deadline."""
        delay = max(at_least, self.policy.backoff(self.waits))
        if time.monotonic() + delay >= self.deadline:
            return False
        self.waits += 1
        time.sleep(delay)
        return True


@dataclass(frozen=True)
class Connection:
    """Where and how to reach a server: the one configuration object that
    :func:`~dwcp_data.influx.write_metrics`, the exports and the DAG take
    (``connection=``). Made from keywords, from the environment
    (:meth:`from_env`, as the official clients read it) or from an Airflow
    connection (``Connection(**dwcp_data.airflow.influx_connection(conn_id))``).

    Exactly one of ``database`` (InfluxDB 1.x: InfluxQL) and ``bucket`` (the
    2.x API: Flux) is given. ``org`` is the 2.x organisation; InfluxDB 1.8's
    compatibility API, where ``bucket`` is ``db/rp`` (or ``db``), ignores it and
    it may be left out. Credentials: ``token`` (2.x; ``username:password`` on
    1.x and 1.8's 2.x API), or ``username`` and ``password`` (1.x basic auth).

    ``timeout`` bounds each request in all: connecting, reading the answer,
    retries and waits for a busy server (429, 503, or InfluxDB's
    "cache-max-memory-size exceeded"); ``retries`` counts the retries after
    connection errors and other 5xx; ``retry``, a :class:`RetryPolicy`, sets
    both and the waits at once (instead of ``timeout`` and ``retries``). Credentials in ``url``
    (``http://user:password@host``) are used as basic auth and removed from
    the URL (a password holding ``/``, ``?``, ``#`` or ``@`` unencoded is
    read up to the last ``@``); no credential appears in a message or ``repr``.

    No redirect is followed: InfluxDB's API never redirects, and a redirect
    would carry the credentials (and a write's body) to whatever host it
    names. A 3xx answer raises :class:`~dwcp_data.errors.InfluxError` with
    ``kind="redirect"``, naming the ``Location``: give that URL instead.

    TLS: certificates are verified against the system's CAs, or against
    ``ca_bundle`` (a PEM file or folder, as ``requests``' ``verify=path``);
    ``verify=False`` switches verification off (for a test server only). A
    certificate that fails verification raises at once with ``kind="tls"``
    (never retried).
    """

    url: str
    database: str | None = None
    bucket: str | None = None
    org: str | None = None
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 120.0
    retries: int = 4
    verify: bool = True
    ca_bundle: str | None = None
    retry: RetryPolicy | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            shown = _without_credentials(self.url) if isinstance(self.url, str) else type(self.url).__name__
            raise InvalidArgumentError.of("url", f"expected http(s)://host:port, got {shown!r}")
        url, user, password = _split_credentials(self.url)
        _check_url(url)
        if user is not None:
            # Credentials in the URL become basic auth; the URL kept (and shown) has none.
            object.__setattr__(self, "url", url)
            if self.token is None and self.username is None:
                object.__setattr__(self, "username", user)
                object.__setattr__(self, "password", password or "")
        if (self.database is None) == (self.bucket is None):
            raise InvalidArgumentError(
                "give exactly one of `database` (InfluxDB 1.x) and `bucket` (2.x)", param="database"
            )
        self._take_retry_policy()
        if not isinstance(self.verify, bool):
            raise InvalidArgumentError.of("verify", f"must be True or False, got {self.verify!r}")
        if self.ca_bundle is not None:
            if not isinstance(self.ca_bundle, (str, os.PathLike)) or not os.path.exists(self.ca_bundle):
                raise InvalidArgumentError.of(
                    "ca_bundle", f"must be an existing PEM file or folder, got {self.ca_bundle!r}"
                )
            object.__setattr__(self, "ca_bundle", os.fspath(self.ca_bundle))

    def _take_retry_policy(self) -> None:
        """Checks ``timeout`` and ``retries``, or takes them from ``retry``."""
        if self.retry is None:
            RetryPolicy(retries=self.retries, timeout=self.timeout)  # checks both
            return
        if not isinstance(self.retry, RetryPolicy):
            raise InvalidArgumentError.of("retry", f"a RetryPolicy or None, got {self.retry!r}")
        if (self.timeout, self.retries) != (_DEFAULTS["timeout"], _DEFAULTS["retries"]):
            raise InvalidArgumentError.of("retry", "give either retry= or timeout= and retries=, not both")
        object.__setattr__(self, "timeout", self.retry.timeout)
        object.__setattr__(self, "retries", self.retry.retries)

    @classmethod
    def of(cls, connection: Connection | None, url: str | None, settings: Mapping[str, Any]) -> Connection:
        """``connection``, or (``None``) one made of ``url`` and the other
        settings a function took as keywords: one or the other, never both.

        Raises:
            dwcp_data.errors.InvalidArgumentError: both or neither given.
        """
        if connection is None:
            if url is None:
                raise InvalidArgumentError.of("url", "give connection= (an influx.Connection) or url=")
            return cls(url, **settings)
        if not isinstance(connection, Connection):
            raise InvalidArgumentError.of(
                "connection", f"an influx.Connection, got {type(connection).__name__}"
            )
        given = [k for k, v in {"url": url, **settings}.items() if v != _DEFAULTS.get(k)]
        if given:
            raise InvalidArgumentError.of(
                given[0], "give either connection= or the connection keywords (url=, token=, ...), not both"
            )
        return connection

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: Any) -> Connection:
        """A connection from the environment variables the official clients
        read, each overridden by a keyword in ``given`` that is not ``None``:

        ========================  =============================================
        setting                   variables, first found
        ========================  =============================================
        ``url``                   ``INFLUX_HOST`` (influx CLI), ``INFLUXDB_V2_URL``
        ``token``                 ``INFLUX_TOKEN``, ``INFLUXDB_V2_TOKEN``
        ``org``                   ``INFLUX_ORG``, ``INFLUXDB_V2_ORG``
        ``bucket``                ``INFLUX_BUCKET``, ``INFLUXDB_V2_BUCKET``
        ``database``              ``INFLUX_DATABASE`` (1.x)
        ``username``/``password``  ``INFLUX_USERNAME``, ``INFLUX_PASSWORD`` (1.x CLI)
        ``verify``                not ``INFLUX_SKIP_VERIFY``; ``INFLUXDB_V2_VERIFY_SSL``
        ``ca_bundle``             ``INFLUXDB_V2_SSL_CA_CERT``
        ``timeout``               ``INFLUXDB_V2_TIMEOUT`` (milliseconds)
        ========================  =============================================

        Secrets stay out of command lines (where ``ps`` shows them) and out of
        code. A ``database`` given or found wins over a bucket found in the
        environment.

        Raises:
            dwcp_data.errors.InvalidArgumentError: no URL, a value that is not
                one, or neither a database nor a bucket.
        """
        env = os.environ if environ is None else environ

        def first(*names: str) -> str | None:
            return next((env[n] for n in names if env.get(n)), None)

        found: dict[str, Any] = {
            "url": first("INFLUX_HOST", "INFLUXDB_V2_URL"),
            "token": first("INFLUX_TOKEN", "INFLUXDB_V2_TOKEN"),
            "org": first("INFLUX_ORG", "INFLUXDB_V2_ORG"),
            "bucket": first("INFLUX_BUCKET", "INFLUXDB_V2_BUCKET"),
            "database": first("INFLUX_DATABASE"),
            "username": first("INFLUX_USERNAME"),
            "password": first("INFLUX_PASSWORD"),
            "ca_bundle": first("INFLUXDB_V2_SSL_CA_CERT"),
        }
        if first("INFLUX_SKIP_VERIFY") is not None:
            found["verify"] = not yes_or_no(env["INFLUX_SKIP_VERIFY"], "verify", "INFLUX_SKIP_VERIFY")
        elif first("INFLUXDB_V2_VERIFY_SSL") is not None:
            found["verify"] = yes_or_no(env["INFLUXDB_V2_VERIFY_SSL"], "verify", "INFLUXDB_V2_VERIFY_SSL")
        if (milliseconds := first("INFLUXDB_V2_TIMEOUT")) is not None:
            try:
                found["timeout"] = float(milliseconds) / 1000
            except ValueError:
                raise InvalidArgumentError.of(
                    "timeout", f"INFLUXDB_V2_TIMEOUT={milliseconds!r} is not milliseconds"
                ) from None
        settings = {**found, **{k: v for k, v in given.items() if v is not None}}
        # one target: a database or bucket given wins, then one found (a database first)
        target = next(
            (
                (key, value)
                for key, value in (
                    ("database", given.get("database")),
                    ("bucket", given.get("bucket")),
                    ("database", found["database"]),
                    ("bucket", found["bucket"]),
                )
                if value is not None
            ),
            None,
        )
        settings["database"] = settings["bucket"] = None
        if target is not None:
            settings[target[0]] = target[1]
        if settings.get("url") is None:
            raise InvalidArgumentError.of(
                "url", "no server URL: set INFLUX_HOST (or INFLUXDB_V2_URL) or give url"
            )
        return cls(**{k: v for k, v in settings.items() if v is not None})

    @property
    def base(self) -> str:
        """The server URL, as errors show it."""
        return self.url.rstrip("/")

    def _headers(self) -> dict[str, str]:
        # InfluxDB 1.x before 1.8 takes no Token header: a 1.x "username:password"
        # token goes as basic auth, which every 1.x accepts.
        if self.token and not (self.database is not None and ":" in self.token):
            return {"Authorization": f"Token {self.token}"}
        pair = self.token if self.token else None
        if pair is None and self.username is not None:
            pair = f"{self.username}:{self.password or ''}"
        if pair is not None:
            return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        return {}

    @property
    def is_local(self) -> bool:
        """Whether the server is on this machine (a loopback host in the URL)."""
        host = urllib.parse.urlsplit(self.url).hostname or ""
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:  # a host name: not resolved here
            return False

    def write(self, body: bytes, on_busy: Callable[[], None] | None = None, *, gzipped: bool) -> None:
        """Post line protocol (ns times) to the database or bucket, as ``body``
        is: gzip-compressed when ``gzipped`` says so. ``on_busy`` is called
        whenever the server asks to slow down."""
        if self.database is not None:
            path, params = "/write", {"db": self.database, "precision": "ns"}
        else:
            path, params = (
                "/api/v2/write",
                {**({"org": self.org} if self.org else {}), "bucket": self.bucket or "", "precision": "ns"},
            )
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        self.request("POST", path, params, body, headers, on_busy)

    def flux(self, query: str) -> bytes:
        """The annotated-CSV answer to a Flux ``query`` (an in-band error table included)."""
        params = {"org": self.org} if self.org else {}
        headers = {"Content-Type": "application/json", "Accept": "application/csv"}
        return self.request(
            "POST", "/api/v2/query", params, _flux.request_body(query), headers, expect_csv=True
        )

    def server_version(self) -> str:
        """The version ``/ping`` names (``X-Influxdb-Version``: ``1.8.3``,
        ``v2.7.11``), or ``""`` where it names none."""
        seen: dict[str, str] = {}
        self.request("GET", "/ping", {}, answer_headers=seen)
        return seen.get("X-Influxdb-Version", "")

    @property
    def retry_policy(self) -> RetryPolicy:
        """How this connection's requests are retried: ``retry``, or one made
        of ``retries`` and ``timeout``."""
        return self.retry or RetryPolicy(retries=self.retries, timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        on_busy: Callable[[], None] | None = None,
        expect_csv: bool = False,
        answer_headers: dict[str, str] | None = None,
    ) -> bytes:
        """One HTTP request, retried as :attr:`retry_policy` says on connection
        errors, 429 and 5xx; the response body, read whole.

        ``timeout`` bounds all of it: connecting, a server that answers slowly
        or never finishes, the retries and the waits. A busy server is waited
        for within that time whatever ``retries`` says: it is asking the client
        to slow down, not failing. With ``expect_csv`` an answer that is not
        CSV (an error in JSON, an HTML page from a proxy) raises. The answer's
        headers are copied into ``answer_headers`` where given.
        """
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(
            url, data=body, method=method, headers={**self._headers(), **(headers or {})}
        )
        attempts = self.retry_policy._start()
        opener = self._opener()
        while True:
            try:
                with opener.open(request, timeout=attempts.remaining()) as response:
                    data = _read_before(response, attempts.deadline)
                    if answer_headers is not None:
                        answer_headers.update((k.title(), v) for k, v in response.headers.items())
                    if expect_csv:
                        self._check_csv(path, response.headers.get_content_type(), data)
                    return data
            except urllib.error.HTTPError as exc:
                retry_after, why = self._refused(exc, path, attempts, on_busy)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                self._refuse_tls(exc)
                retry_after, why = self._unreached(exc, path, attempts)
            if not attempts.wait(retry_after):
                raise self._timed_out(path, why)

    def _opener(self) -> urllib.request.OpenerDirector:
        """An opener that follows no redirect and speaks TLS as ``verify`` and ``ca_bundle`` say."""
        return urllib.request.build_opener(
            _NoRedirects(), urllib.request.HTTPSHandler(context=_tls_context(self.verify, self.ca_bundle))
        )

    def _refuse_tls(self, exc: BaseException) -> None:
        """Raises ``InfluxError`` (``kind="tls"``) when ``exc`` is a TLS failure:
        a certificate that does not verify, or a handshake the server refused.
        Trying again cannot help, and it is not the server being unreachable."""
        reason = getattr(exc, "reason", exc)
        if not isinstance(reason, ssl.SSLError):
            return
        hint = (
            ": pass ca_bundle= with the CA that signed the server's certificate"
            if isinstance(reason, ssl.SSLCertVerificationError)
            else ""
        )
        raise InfluxError(
            f"{self.base}: TLS failed: {getattr(reason, 'verify_message', None) or reason}{hint}",
            url=self.base,
            kind="tls",
        ) from None

    def _refused(
        self,
        exc: urllib.error.HTTPError,
        path: str,
        attempts: _Attempts,
        on_busy: Callable[[], None] | None,
    ) -> tuple[float, str]:
        """An HTTP error answer read: raises the ``InfluxError`` it means, or
        gives the wait the server asks for (``Retry-After``) and why, when
        the request is to be tried again."""
        with exc:  # the answer's connection is closed once read
            detail = exc.read().decode("utf-8", "replace").strip()
        said = {k.title(): v for k, v in exc.headers.items()}
        if 300 <= exc.code < 400:
            where = _without_credentials(said.get("Location", "")) or "no Location"
            raise InfluxError(
                f"{self.base}{path}: the server redirects (HTTP {exc.code}) to {where!r}; redirects are not "
                "followed (they would carry the credentials elsewhere): give that server's URL instead",
                url=self.base,
                kind="redirect",
            ) from None
        message = _flux.error_message(said, detail)
        final = self._final_error(exc.code, path, detail, said, message)
        if final is not None:
            raise final from None
        busy = exc.code in (429, 503) or "cache-max-memory-size exceeded" in detail
        if busy:
            if on_busy is not None:
                on_busy()
        elif exc.code not in _RETRY_STATUS or not attempts.failed():
            raise InfluxError(
                f"{self.base}{path}: HTTP {exc.code}: {message}", url=self.base, kind="server"
            ) from None
        why = f"HTTP {exc.code}: the server stayed busy: {message}" if busy else ""
        return _retry_after(exc.headers.get("Retry-After")), why

    def _final_error(
        self, code: int, path: str, detail: str, said: dict[str, str], message: str
    ) -> InfluxError | None:
        """The error an answer means when trying again cannot help: bad
        credentials, no such API, database or bucket, a query the engine
        refused, a partial write; ``None`` otherwise."""
        if code in (401, 403):
            return InfluxError(
                f"{self.base}: not authorised ({code}): check the credentials", url=self.base, kind="auth"
            )
        if code == 404 and path.startswith("/api/v2") and "page not found" in detail:
            return InfluxError(
                f"{self.base}: the server has no {path} (InfluxDB 1.x has no Flux or v2 API): "
                "give database= (--database) instead of bucket= and org=",
                url=self.base,
                kind="server",
            )
        if code in (404, 500) and _flux.names_unknown_bucket(message):
            # 1.8 answers an unknown retention policy with a 500: never retried
            return InfluxError(f"{self.base}: {message}", url=self.base, kind="database")
        engine_said = "X-Influxdb-Error" in said or "X-Platform-Error-Code" in said
        if path == "/api/v2/query" and code in (400, 500) and engine_said:
            # the query engine's own verdict (syntax, types, plan, execution): never retried
            return InfluxError(
                f"{self.base}: the query failed: {_shortened(message)}", url=self.base, kind="query"
            )
        if code == 400 and "partial write" in message:
            return InfluxError(
                f"{self.base}{path}: the server stored only part of the batch: {_shortened(message)}",
                url=self.base,
                kind="partial",
                dropped=_dropped(message),
            )
        return None

    def _unreached(
        self, exc: OSError | http.client.HTTPException, path: str, attempts: _Attempts
    ) -> tuple[float, str]:
        """A request that got no answer: raises once the deadline or the
        retries are spent; else no extra wait, and why."""
        reason = getattr(exc, "reason", exc)
        if attempts.expired():
            raise self._timed_out(path, reason) from None
        if not attempts.failed():
            raise InfluxError(
                f"{self.base}: cannot reach the server after {attempts.failures} attempt(s): {reason}",
                url=self.base,
                kind="unreachable",
            ) from None
        return 0.0, str(reason)

    def _timed_out(self, path: str, why: object) -> InfluxError:
        return InfluxError(
            f"{self.base}{path}: no complete answer within timeout={self.timeout:g} s"
            + (f" ({why})" if why else ""),
            url=self.base,
            kind="timeout",
        )

    def _check_csv(self, path: str, content_type: str, data: bytes) -> None:
        """Raise unless ``data`` is a CSV answer (InfluxDB may answer errors in JSON with 200)."""
        if content_type.endswith("csv") or (not data and content_type == "text/plain"):
            return
        if content_type == "application/json":
            text = _flux.error_message({}, data.decode("utf-8", "replace"))
        else:
            text = f"{content_type} instead of CSV: {data[:200]!r}"
        raise InfluxError(f"{self.base}{path}: not an InfluxDB answer: {text}", url=self.base, kind="server")


#: Whether plain-socket answers are read in Rust (Unix builds have the reader;
#: TLS answers always go through http.client).
_RUST_READS = hasattr(_core, "read_http_body")


def _read_before(response: http.client.HTTPResponse, deadline: float) -> bytes:
    """The whole body of ``response``, or ``TimeoutError`` once ``deadline`` passes
    (a server may trickle its answer a byte at a time).

    On a plain socket the body is read in Rust straight from the socket into one
    buffer, chunked framing removed in place: http.client's layers (a buffered
    reader, chunk-by-chunk decoding, a bytes object per read, a join) cost more
    CPU than parsing the CSV, and on a 2-core machine that CPU is taken from the
    server. The request asked the server to close the connection after the
    answer, so the end of the stream ends an answer without a length.
    """
    fp = response.fp
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if not _RUST_READS or fp is None or sock is None or isinstance(sock, ssl.SSLSocket):
        return _read_through_http_client(response, sock, deadline)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the answer did not finish in time")
    length = None if response.chunked else response.length
    if length == 0:
        return b""
    sock.settimeout(remaining)
    buffered = fp.peek()  # bytes http.client's reader already holds (or one read)
    prefix = fp.read(len(buffered))
    remaining = max(deadline - time.monotonic(), 0.0)
    try:
        body = _core.read_http_body(sock.fileno(), prefix, length, bool(response.chunked), remaining)
    except DataError as exc:
        raise http.client.IncompleteRead(b"", None) from exc
    response.close()  # every byte was consumed behind http.client's back
    return body


def _read_through_http_client(
    response: http.client.HTTPResponse, sock: socket.socket | None, deadline: float
) -> bytes:
    """The whole body of ``response`` read through http.client (TLS connections)."""
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the answer did not finish in time")
        if sock is not None:
            sock.settimeout(remaining)
        chunk = response.read1(1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


#: Each keyword's default, to tell given keywords from left-out ones.
_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(Connection) if f.default is not dataclasses.MISSING
}


class ConnectionSettings(TypedDict, total=False):
    """The fields of :class:`Connection` but ``url``, as the keywords of the
    functions that take either a connection or its settings (each optional)."""

    database: str | None
    bucket: str | None
    org: str | None
    token: str | None
    username: str | None
    password: str | None
    timeout: float
    retries: int
    verify: bool
    ca_bundle: str | None
    retry: RetryPolicy | None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: a 3xx reaches :meth:`Connection._refused` as an ``HTTPError``."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@functools.lru_cache(maxsize=16)
def _tls_context(verify: bool, ca_bundle: str | None) -> ssl.SSLContext:
    """The TLS settings of a connection (made once per setting: loading CAs takes time)."""
    if ca_bundle is not None and os.path.isdir(ca_bundle):
        context = ssl.create_default_context(capath=ca_bundle)
    else:
        context = ssl.create_default_context(cafile=ca_bundle)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _retry_after(value: str | None) -> float:
    """The wait a ``Retry-After`` header asks for, in seconds: a number of
    seconds or an HTTP date (RFC 9110); 0 (no hint) for anything else, a
    negative, non-finite or past one."""
    text = (value or "").strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without its ``user:password@`` part, and the user and password
    (percent-decoded; ``None`` without one). The credentials run to the last
    ``@`` of the URL, so a password holding ``/``, ``?``, ``#`` or ``@``
    unencoded is never taken for part of the host or path."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at:
        return url, None, None
    user, colon, password = userinfo.partition(":")
    unquote = urllib.parse.unquote
    return f"{scheme}://{host}", unquote(user), unquote(password) if colon else None


def _without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    if "://" not in url:
        return url.rpartition("@")[2]
    return _split_credentials(url)[0]


def _check_url(url: str) -> None:
    """Refuses a server URL (credentials removed) that has no host or a port that is not one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgumentError.of("url", f"{url!r} is not a URL: {exc}") from None
    if not parts.hostname:
        raise InvalidArgumentError.of("url", f"{url!r} names no host")
    if port == 0:
        raise InvalidArgumentError.of("url", f"{url!r}: port 0 is not a port")


def _shortened(text: str, keep: int = 120) -> str:
    """``text`` with every run of more than ``keep`` characters without a
    space cut (a server may echo a 64 KiB tag value back)."""
    return re.sub(rf"\S{{{keep},}}", lambda m: f"{m[0][:keep]}...({len(m[0]):,} characters)", text)


def _dropped(text: str) -> int | None:
    """How many points a partial write lost: those InfluxDB could not parse
    (1.x counts them apart) plus its ``dropped=N``; ``None`` if it does not say."""
    counts = [int(n) for n in re.findall(r"dropped=(\d+)", text)]
    unparsed = text.count("unable to parse")
    return sum(counts) + unparsed if counts or unparsed else None
