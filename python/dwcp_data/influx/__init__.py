"""InfluxDB: write metrics as line protocol, export them into the training schema.

InfluxDB 1.x is spoken with ``database=`` (InfluxQL over ``/query``, CSV
responses, ``/write``); the 2.x API with ``bucket=`` (and ``org=`` on 2.x:
Flux over ``/api/v2/query``, annotated CSV, ``/api/v2/write``), which InfluxDB
2.x and 1.8's compatibility API (bucket ``db/rp``) serve. Line protocol is
encoded and responses are parsed in Rust; HTTP uses the standard library.

The package has one module per concern: :mod:`~dwcp_data.influx.transport`
(a request, its retries and the server's errors), :mod:`~dwcp_data.influx.write`
and :mod:`~dwcp_data.influx.export`; every public name is here too.

Tests run the 1.x path against a real ``influxd`` (Debian's 1.6.7). That server
has no Flux, so the 2.x API is tested against a local stub that answers as a
real InfluxDB 1.8.3 was recorded answering (``tests/data/influxdb-1.8-flux``).
"""

from dwcp_data.influx.export import (
    EXPORT_CONCURRENCY,
    ExportReport,
    export_metrics,
    export_to_file,
    export_to_folder,
)
from dwcp_data.influx.transport import Connection, RetryPolicy
from dwcp_data.influx.write import (
    MAX_SERIES_KEY_BYTES,
    MEASUREMENT,
    SERIES_WARNING_THRESHOLD,
    TAGS,
    SeriesCountWarning,
    ValuesNotStoredWarning,
    WriteReport,
    write_metrics,
)

__all__ = [
    "EXPORT_CONCURRENCY",
    "MAX_SERIES_KEY_BYTES",
    "MEASUREMENT",
    "SERIES_WARNING_THRESHOLD",
    "TAGS",
    "Connection",
    "ExportReport",
    "RetryPolicy",
    "SeriesCountWarning",
    "ValuesNotStoredWarning",
    "WriteReport",
    "export_metrics",
    "export_to_file",
    "export_to_folder",
    "write_metrics",
]
