"""Type stubs of the compiled core, ``dwcp_data._core`` (src/python/mod.rs)."""


import polars as pl

from dwcp_data._reports import CleaningReportDict, RuleResultDict

__all__ = [
    "INFLUX_TAG_COLUMNS",
    "__version__",
    "check_csv",
    "clean",
    "encode_line_protocol",
    "generate_synthetic",
    "label_oracle",
    "parse_influx_csv",
    "read_http_body",
    "schema_columns",
    "to_utc_timestamps",
    "validate",
]

__version__: str
#: The columns written as InfluxDB tags by default (the design document's collector's five).
INFLUX_TAG_COLUMNS: list[str]

def schema_columns() -> list[tuple[str, str, list[str], str, str, str]]:
    """The schema as ``(name, kind, categories, unit, description, role)`` tuples, in order."""

def generate_synthetic(
    n: int, seed: int, end_us: int, freq_us: int, start: int = 0, length: int | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Rows ``start .. start + length`` of ``n`` synthetic rows, and the Enum columns sent as codes."""

def validate(
    df: pl.DataFrame,
    enum_columns: list[str],
    profile: str,
    min_rows: int,
    max_missing_fraction: float,
    min_class_share: float,
    now_us: int,
    max_examples: int,
) -> list[RuleResultDict]:
    """The validation rules' results; ``enum_columns`` name schema Enum columns sent as UInt8 codes."""

def clean(
    df: pl.DataFrame,
    enum_columns: list[str],
    dedupe: bool,
    outlier_columns: list[str],
    iqr_k: float,
    by: list[str] | None,
    impute_median: bool,
) -> tuple[pl.DataFrame, list[str], CleaningReportDict]:
    """The cleaned frame, its Enum columns sent as codes, and the cleaning report."""

def label_oracle(
    df: pl.DataFrame, enum_columns: list[str], cpu_weight: float
) -> tuple[pl.DataFrame, list[str]]:
    """``df`` with the oracle's estimates and label, and the Enum columns sent as codes."""

def check_csv(data: bytes) -> list[tuple[int, str | None, str, int, int]]:
    """The lines that do not fit the schema: ``(line, column, message, start, end)``."""

def to_utc_timestamps(series: pl.Series) -> pl.Series:
    """A timestamp column as ``Datetime("us", "UTC")``."""

def encode_line_protocol(
    df: pl.DataFrame,
    enum_columns: list[str],
    measurement: str,
    tags: list[str],
    gzip_level: int | None = None,
) -> tuple[bytes, int]:
    """``df`` as InfluxDB line protocol points of ``measurement`` (``tags`` as tags,
    every other column but ``timestamp`` as a field), gzip-compressed at ``gzip_level``
    if given, and how many rows had no field to write."""

def parse_influx_csv(body: bytes) -> tuple[pl.DataFrame, list[str]]:
    """An InfluxQL CSV or Flux annotated-CSV response in the schema, and the Enum columns sent as codes."""

def read_http_body(fd: int, prefix: bytes, length: int | None, chunked: bool, timeout: float) -> bytes:
    """The rest of an HTTP answer's body read from socket ``fd`` after ``prefix``: ``length``
    bytes or to the end of the stream, chunked framing removed; ``TimeoutError`` after
    ``timeout`` seconds, ``DataError`` for a cut answer."""
