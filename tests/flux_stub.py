"""A local stand-in for InfluxDB's 2.x API as InfluxDB 1.8.3 (Flux 0.65.1) serves it.

Built from answers recorded byte for byte from a real 1.8.3 server
(``tests/data/influxdb-1.8-flux``, whose README lists the facts), and checked
against them in ``test_flux.py``: every recorded request of the shapes below
gets an answer that parses to the same frame, and the same errors.

It stores what ``/api/v2/write`` receives (line protocol parsed here, not by
dwcp_data) and answers the Flux that dwcp_data sends: the export's pivoted
query (with or without its ``_time < stop`` filter) and its count query;
``/ping`` and InfluxQL's ``SHOW RETENTION POLICIES``. As 1.8 does:

* ``range(start, stop)`` includes ``stop`` (``version="2.7.11"``: excludes it);
* one table per series, tables in series-key order, only their own columns,
  a new annotation block where columns or types change, CRLF, chunked 2 KiB;
* a field is read with the type it has in the first shard group (7 days from
  Monday) the range touches that holds it; its values of another type are
  dropped without a word (influxdb#20035);
* an unknown database or retention policy is a 500 with a CSV ``error`` body;
* a write keeps its good lines and names its first bad line or type conflict
  (``partial write: ... dropped=N``), with 1.8's statuses and words.

Anything else is answered with a 500 naming what the stub does not know, so a
test never passes on a query the stub did not understand.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

DAY = 86_400 * 10**9
WEEK = 7 * DAY
#: Go's zero time, from which InfluxDB aligns shard groups (weekly ones on Mondays).
GO_ZERO = -62_135_596_800 * 10**9
CHUNK = 2048


# --- line protocol, read the way influxd reads it -----------------------------------------------


def _split(text: str, stops: str) -> tuple[str, str, str]:
    """``text`` up to the first unescaped character of ``stops`` (unescaped), that character, the rest."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in ', =\\"':
            out.append(text[i + 1])
            i += 2
            continue
        if c in stops:
            return "".join(out), c, text[i + 1 :]
        out.append(c)
        i += 1
    return "".join(out), "", ""


def _field_value(text: str) -> tuple[tuple[str, Any], str]:
    """One field value (type, value) and the rest of the line after it."""
    if text.startswith('"'):
        out, i = [], 1
        while text[i] != '"':
            if text[i] == "\\" and text[i + 1] in '"\\':
                i += 1
            out.append(text[i])
            i += 1
        return ("string", "".join(out)), text[i + 1 :]
    raw = re.match(r"[^, ]*", text)[0]  # type: ignore[index]
    rest = text[len(raw) :]
    if raw.endswith("i"):
        return ("long", int(raw[:-1])), rest
    if raw in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
        return ("boolean", raw.lower().startswith("t")), rest
    return ("double", float(raw)), rest


@dataclass
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, tuple[str, Any]]
    ns: int

    @property
    def series(self) -> str:
        """The series key as InfluxDB sorts it: measurement, then tags by key."""
        return ",".join([self.measurement, *(f"{k}={v}" for k, v in sorted(self.tags.items()))])


class LineError(ValueError):
    """A line influxd cannot parse: its reason as influxd words it."""


def parse_line(line: str) -> Point:
    measurement, sep, rest = _split(line, ", ")
    tags: dict[str, str] = {}
    while sep == ",":
        key, _, rest = _split(rest, "=")
        value, sep, rest = _split(rest, ", ")
        tags[key] = value
    fields: dict[str, tuple[str, Any]] = {}
    while True:
        key, _, rest = _split(rest, "=")
        if rest == "" or rest[0] in ", ":
            raise LineError("missing field value")
        fields[key], rest = _field_value(rest)
        if not rest.startswith(","):
            break
        rest = rest[1:]
    stamp = rest.strip()
    if stamp and not re.fullmatch(r"-?\d+", stamp):
        raise LineError("bad timestamp")
    return Point(measurement, tags, fields, int(stamp) if stamp else time.time_ns())


def parse_line_protocol(body: str) -> list[Point]:
    """Every line of ``body`` (all must parse)."""
    return [parse_line(line) for line in body.splitlines() if line.strip() and not line.startswith("#")]


# --- answers, written the way 1.8 writes them ---------------------------------------------------


def rfc3339(ns: int) -> str:
    seconds, frac = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return text + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


def _number(kind: str, value: Any) -> str:
    if kind == "double":  # shortest round trip, never an exponent (Go's 'f', -1)
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if kind == "boolean":
        return "true" if value else "false"
    return str(value)


def _cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _shard_group(ns: int) -> int:
    return ns - (ns - GO_ZERO) % WEEK


def _pivoted(points: list[Point], lo: int, hi: int, *, include_stop: bool, one_type: bool) -> str:
    """The export query's answer: ``points`` in the range, one table per series.
    ``one_type``: each field read with one type, as 1.8 reads it."""
    inside = [p for p in points if lo <= p.ns < hi or (include_stop and p.ns == hi)]
    # 1.8: a field's type is the one it has in the first shard group touched that holds it
    groups: dict[int, dict[str, str]] = {}
    for p in points:
        for name, (kind, _) in p.fields.items():
            groups.setdefault(_shard_group(p.ns), {}).setdefault(name, kind)
    touched = [g for g in sorted(groups) if g <= hi and g + WEEK > lo]
    typed: dict[str, str] = {}
    for g in touched if one_type else ():
        for name, kind in groups[g].items():
            typed.setdefault(name, kind)
    series: dict[str, list[Point]] = {}
    for p in sorted(inside, key=lambda p: (p.series, p.ns)):
        series.setdefault(p.series, []).append(p)
    lines: list[str] = []
    block: tuple | None = None
    for table, (_, rows) in enumerate(series.items()):
        tags = sorted(rows[0].tags)
        kept = [{k: v for k, v in p.fields.items() if not one_type or typed.get(k) == v[0]} for p in rows]
        names = sorted({k for f in kept for k in f})
        if not names:
            continue
        # 2.x: a column's type is its first value's (not recorded here: no mixed-type data is sent it)
        kinds = [typed[n] if one_type else next(f[n][0] for f in kept if n in f) for n in names]
        shape = (tuple(tags), tuple(names), tuple(kinds))
        if shape != block:
            if block is not None:
                lines.append("")
            width = 1 + len(tags) + len(names)
            lines += [
                ",".join(
                    ["#datatype", "string", "long", "dateTime:RFC3339", *["string"] * len(tags), *kinds]
                ),
                ",".join(
                    ["#group", "false", "false", "false", *["true"] * len(tags), *["false"] * len(names)]
                ),
                ",".join(["#default", "_result", "", *[""] * width]),
                ",".join(["", "result", "table", "_time", *tags, *names]),
            ]
            block = shape
        for p, f in zip(rows, kept, strict=True):
            values = [
                "" if n not in f else _number(f[n][0], f[n][1]) if f[n][0] != "string" else _cell(f[n][1])
                for n in names
            ]
            lines.append(
                ",".join(["", "", str(table), rfc3339(p.ns), *(_cell(p.tags[t]) for t in tags), *values])
            )
    return "\r\n".join([*lines, ""]) + "\r\n" if lines else "\r\n"


def counted(times: Iterable[int], lo: int, hi: int, step: int) -> str:
    """The count query's answer for values at ``times`` (ns): how many fall in
    each epoch-aligned ``step``-ns window of ``[lo, hi)``, summed over series."""
    counts: dict[int, int] = {}
    for t in times:
        if lo <= t < hi:
            start = max(t - t % step, lo)
            counts[start] = counts.get(start, 0) + 1
    lines = [
        "#datatype,string,long,dateTime:RFC3339,long",
        "#group,false,false,false,false",
        "#default,_result,,,",
        ",result,table,_start,_value",
        *(f",,0,{rfc3339(t)},{n}" for t, n in sorted(counts.items())),
    ]
    return "\r\n".join([*lines, ""]) + "\r\n" if counts else "\r\n"


# --- the queries dwcp_data sends ---------------------------------------------------------------

_FLUX_STRING = r'"((?:[^"\\]|\\.)*)"'
#: ``r._field == "name"`` (the name not captured).
_FIELD = r'r\._field == "(?:[^"\\]|\\.)*"'
_SOURCE = re.compile(
    rf"from\(bucket: {_FLUX_STRING}\) \|> range\(start: time\(v: (-?\d+)\), stop: time\(v: (-?\d+)\)\)"
    rf" \|> filter\(fn: \(r\) => r\._measurement == {_FLUX_STRING}"
    rf"( and (?:{_FIELD}|\({_FIELD}(?: or {_FIELD})+\)))?\)"
    r"( \|> filter\(fn: \(r\) => r\._time < time\(v: (-?\d+)\)\))?"
)
_PIVOT = (
    ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    ' |> drop(columns: ["_start", "_stop", "_measurement"])'
)
_COUNT = re.compile(
    r' \|> window\(every: (\d+)ns, createEmpty: false\) \|> count\(\) \|> group\(columns: \["_start"\]\)'
    r' \|> sum\(\) \|> group\(\) \|> keep\(columns: \["_start", "_value"\]\)'
)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), text)


@dataclass
class State:
    """What a stub server holds and how it behaves."""

    version: str = "1.8.3"
    databases: dict[str, set[str]] = field(default_factory=lambda: {"dwcp_metrics": {"autogen"}})
    points: dict[str, list[Point]] = field(default_factory=dict)
    #: every request: (method, path, query parameters, body, headers)
    calls: list[tuple[str, str, dict[str, str], bytes, dict[str, str]]] = field(default_factory=list)
    #: each field's type per (database, measurement, shard group), as writes found them
    field_types: dict[tuple[str, str, int], dict[str, str]] = field(default_factory=dict)
    #: a message sent as an in-band error table after the first table of every data answer
    fail_mid_answer: str | None = None
    #: data answers keep at most this many rows (a server cutting answers short)
    cut_rows: int | None = None

    @property
    def stop_included(self) -> bool:
        return self.version.startswith("1.")

    def bucket(self, name: str) -> tuple[str, str] | str:
        """``(database, policy)``, or the 1.8 error message for an unknown one."""
        database, _, policy = name.partition("/")
        if database not in self.databases:
            return "failed to initialize execute state: no database"
        if policy and policy not in self.databases[database]:
            return "failed to initialize execute state: invalid retention policy"
        return database, policy or "autogen"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ClassVar[State]

    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, content_type: str, *, chunked: bool = False, error: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if error is not None:
            self.send_header("X-Influxdb-Error", error)
        self.send_header("X-Influxdb-Build", "OSS")
        self.send_header("X-Influxdb-Version", self.state.version)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for at in range(0, len(body), CHUNK):
                piece = body[at : at + CHUNK]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _csv_error(self, status: int, message: str) -> None:
        self._send(status, f"error\n{_cell(message)}\n".encode(), "application/csv", error=message)

    def _handle(self) -> None:
        try:
            self._route()
        except Exception as exc:  # a stub bug: answered, so that the test names it
            self._csv_error(500, f"the stub failed: {exc!r}")

    def _route(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = self.state
        state.calls.append((self.command, url.path, params, body, dict(self.headers)))
        if url.path == "/ping":
            self._send(204, b"", "application/json")
        elif url.path == "/api/v2/write":
            self._write(params, body)
        elif url.path == "/api/v2/query":
            self._query(json.loads(body)["query"])
        elif url.path == "/query" and state.stop_included:
            self._influxql(params.get("q", ""))
        else:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    do_GET = do_POST = _handle

    def _send_json_error(self, status: int, message: str) -> None:
        """A write error as 1.8 sends it: ``{"error": ...}`` in JSON, and the header."""
        body = json.dumps({"error": message}, separators=(",", ":")).encode() + b"\n"
        self._send(status, body, "application/json", error=message)

    def _write(self, params: dict[str, str], body: bytes) -> None:
        database, _, policy = params.get("bucket", "").partition("/")
        if database not in self.state.databases:
            message = f'database not found: "{database}"'
            self._send_json_error(404, message)
            return
        if policy and policy not in self.state.databases[database]:
            message = f"retention policy not found: {policy}"
            self._send_json_error(500, message)
            return
        stored = self.state.points.setdefault(database, [])
        errors, dropped, good = [], 0, 0
        for line in (raw for raw in body.decode().splitlines() if raw.strip()):
            try:
                point = parse_line(line)
            except LineError as exc:
                errors.append(f"unable to parse '{line}': {exc}")
                continue
            conflict = self._type_conflict(database, point)
            if conflict is not None:
                errors.append(conflict)
                dropped += 1
                continue
            stored.append(point)
            good += 1
        if errors:
            # 1.8 keeps the good lines; it names the first problem, and how many points it dropped
            partial = good > 0 or dropped > 0
            message = f"partial write: {errors[0]} dropped={dropped}" if partial else errors[0]
            self._send_json_error(400, message)
            return
        self._send(204, b"", "application/json")

    def _type_conflict(self, database: str, point: Point) -> str | None:
        """influxd's message if a field of ``point`` has another type in its shard
        group; else the point's types are recorded there."""
        known = self.state.field_types.setdefault((database, point.measurement, _shard_group(point.ns)), {})
        words = {"long": "integer", "double": "float", "string": "string", "boolean": "boolean"}
        for name, (kind, _) in point.fields.items():
            if known.get(name, kind) != kind:
                return (
                    f'field type conflict: input field "{name}" on measurement "{point.measurement}" '
                    f"is type {words[kind]}, already exists as type {words[known[name]]}"
                )
        for name, (kind, _) in point.fields.items():
            known.setdefault(name, kind)
        return None

    def _query(self, query: str) -> None:
        source = _SOURCE.match(query)
        if source is None:
            self._csv_error(500, f"the stub does not know this query: {query[:200]}")
            return
        bucket = self.state.bucket(_unescape(source[1]))
        if isinstance(bucket, str):
            self._csv_error(500, bucket)
            return
        lo, hi = int(source[2]), int(source[3])
        measurement = _unescape(source[4])
        # no field filter, one field (`and r._field == "f"`) or several (`and (... or ...)`)
        fields = {_unescape(f) for f in re.findall(rf"r\._field == {_FLUX_STRING}", source[5] or "")}
        stop_included = self.state.stop_included and source[6] is None
        points = [p for p in self.state.points.get(bucket[0], []) if p.measurement == measurement]
        rest = query[source.end() :]
        if rest == _PIVOT and not fields:
            text = _pivoted(points, lo, hi, include_stop=stop_included, one_type=self.state.stop_included)
            text = self._misbehaving(text)
        elif (count := _COUNT.fullmatch(rest)) is not None:
            # the chosen fields' values (every field's without a filter), as count() counts each table
            times = (p.ns for p in points for f in p.fields if not fields or f in fields)
            text = counted(times, lo, hi, int(count[1]))
        else:
            self._csv_error(500, f"the stub does not know this query: {query[:200]}")
            return
        self._send(200, text.encode(), "text/csv; charset=utf-8", chunked=True)

    def _misbehaving(self, text: str) -> str:
        state = self.state
        if state.cut_rows is not None:
            lines = text.split("\r\n")
            data = [i for i, line in enumerate(lines) if line.startswith(",,")]
            drop = set(data[state.cut_rows :])
            text = "\r\n".join(line for i, line in enumerate(lines) if i not in drop)
        if state.fail_mid_answer is not None and text != "\r\n":
            first = text.split("\r\n\r\n")[0]
            text = (
                f"{first}\r\n\r\n#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n"
                f",error,reference\r\n,{_cell(state.fail_mid_answer)},\r\n"
            )
        return text

    def _influxql(self, q: str) -> None:
        shown = re.fullmatch(r'SHOW RETENTION POLICIES ON "((?:[^"\\]|\\.)*)"', q)
        if shown is None or _unescape(shown[1]) not in self.state.databases:
            self._send(200, b'{"results":[{"statement_id":0,"error":"unknown"}]}\n', "application/json")
            return
        policies = sorted(self.state.databases[_unescape(shown[1])])
        values = [[p, "0s", "168h0m0s", 1, p == "autogen"] for p in policies]
        columns = ["name", "duration", "shardGroupDuration", "replicaN", "default"]
        answer = {"results": [{"statement_id": 0, "series": [{"columns": columns, "values": values}]}]}
        self._send(200, json.dumps(answer).encode() + b"\n", "application/json")


class FluxStub:
    """A stub server on a free loopback port: ``url``, ``state``; a context manager."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FluxStub:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def queries(self) -> list[str]:
        """The Flux queries received, in order."""
        return [json.loads(call[3])["query"] for call in self.state.calls if call[1] == "/api/v2/query"]
