"""Type stubs of the compiled core, ``dwcp_data._core`` (src/python/mod.rs)."""

import os
from collections.abc import Callable
from typing import final

import numpy as np
import numpy.typing as npt
import polars as pl

from dwcp_data._reports import CleaningReportDict
from dwcp_data.options import CleaningOptions, ValidationOptions
from dwcp_data.validation import RuleResult

__all__ = [
    "DUPLICATE_KEY",
    "INFLUX_TAG_COLUMNS",
    "MAX_SERIES_KEY_BYTES",
    "BlockFence",
    "CleaningPass",
    "CleaningPlan",
    "FenceResult",
    "FirstPass",
    "GroupTable",
    "Profile",
    "ValidationFacts",
    "__version__",
    "check_cleaning_columns",
    "check_cleaning_options",
    "check_csv",
    "check_line_protocol",
    "check_validation_options",
    "clean",
    "clean_block",
    "duplicate_flags",
    "encode_line_protocol",
    "exchange_paths",
    "feature_matrix",
    "find_duplicates",
    "generate_synthetic",
    "hash_partitions",
    "hash_records",
    "label_oracle",
    "merge_rank_partials",
    "nan_as_null",
    "parse_influx_csv",
    "partition_count",
    "rank_partials",
    "read_http_body",
    "repeated_rows",
    "schema_columns",
    "to_utc_timestamps",
    "validation_facts",
]

__version__: str
#: The columns whose values together must not repeat (strict validation).
DUPLICATE_KEY: list[str]
#: The columns written as InfluxDB tags by default (the design document's collector's five).
INFLUX_TAG_COLUMNS: list[str]
MAX_SERIES_KEY_BYTES: int

def schema_columns() -> list[tuple[str, str, list[str], str, str, str]]:
    """The schema as ``(name, kind, categories, unit, description, role)`` tuples, in order."""

def generate_synthetic(
    n: int, seed: int, end_us: int, freq_us: int, start: int = 0, length: int | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Rows ``start .. start + length`` of ``n`` synthetic rows, and the Enum columns sent as codes."""

def clean(
    df: pl.DataFrame, enum_columns: list[str], options: CleaningOptions
) -> tuple[pl.DataFrame, list[str], CleaningReportDict]:
    """The cleaned frame, its Enum columns sent as codes, and the cleaning report."""

def label_oracle(
    df: pl.DataFrame, enum_columns: list[str], cpu_weight: float
) -> tuple[pl.DataFrame, list[str]]:
    """``df`` with the oracle's estimates and label, and the Enum columns sent as codes."""

def check_csv(
    path: str | os.PathLike[str],
    cr_only: bool = False,
    split: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
) -> list[tuple[int, str | None, str, int, int]]:
    """The lines of the CSV file ``path`` that do not fit the schema: ``(line, column,
    message, start, end)``; with ``split=(kept, rejects)`` the good lines and the bad
    ones (after the header) are written to those files. ``cr_only``: lines end in a lone CR."""

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

def check_line_protocol(df: pl.DataFrame, enum_columns: list[str], measurement: str, tags: list[str]) -> None:
    """Raises ``DataError`` naming the first row that cannot be written as ``encode_line_protocol`` writes it."""

def parse_influx_csv(body: bytes) -> tuple[pl.DataFrame, list[str]]:
    """An InfluxQL CSV or Flux annotated-CSV response in the schema, and the Enum columns sent as codes."""

def read_http_body(fd: int, prefix: bytes, length: int | None, chunked: bool, timeout: float) -> bytes:
    """The rest of an HTTP answer's body read from socket ``fd`` after ``prefix``: ``length``
    bytes or to the end of the stream, chunked framing removed; ``TimeoutError`` after
    ``timeout`` seconds, ``DataError`` for a cut answer."""

def exchange_paths(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Swaps the folders (or files) ``a`` and ``b`` atomically (Linux ``renameat2``
    with ``RENAME_EXCHANGE``); ``False`` where the system cannot."""

#: A probe of a rank search: ``(prefix, depth, collect)``.
_Probe = tuple[int, int, bool]

def hash_partitions(df: pl.DataFrame, enum_columns: list[str], first_row: int, dir: str, parts: int) -> None:
    """Appends the shard's 128-bit row hashes (rows numbered from ``first_row``) to the partition files in ``dir``."""

def hash_records(df: pl.DataFrame, enum_columns: list[str], first_row: int, parts: int) -> list[bytes]:
    """The shard's 128-bit row hashes (rows numbered from ``first_row``) as ``parts`` byte strings of partition records."""

def repeated_rows(pieces: list[bytes]) -> npt.NDArray[np.uint64]:
    """The rows among one partition's records (from every shard) that repeat an earlier row, sorted."""

def partition_count(rows: int) -> int:
    """Partition files for a data set of about ``rows`` rows."""

def find_duplicates(dir: str, parts: int) -> int:
    """Finds the duplicate rows of every partition in ``dir``; how many there are."""

def duplicate_flags(dir: str, parts: int, first_row: int, rows: int) -> pl.Series:
    """Whether each of rows ``first_row .. first_row + rows`` repeats an earlier row."""

def rank_partials(
    values: pl.Series, groups: pl.Series | None, probes: list[tuple[int, _Probe]]
) -> list[pl.Series]:
    """One shard's partials for ``(group, probe)`` pairs over the non-null ``values``."""

def merge_rank_partials(a: list[pl.Series], b: list[pl.Series]) -> list[pl.Series]:
    """Partials merged pairwise: ``a[i]`` and ``b[i]`` are of one probe (counts
    added, dense or sparse; values appended). One call for a block's partials:
    a call per probe cost more than the merge itself."""

@final
class ValidationFacts:
    """The facts the validation rules need of a shard, merged shard after shard into a data set's."""

    @property
    def needs_duplicates(self) -> bool:
        """Whether the rules need the repeated keys across shards (strict profile, key columns present)."""
    @property
    def rows(self) -> int:
        """Rows the facts cover."""
    def then(self, later: ValidationFacts) -> ValidationFacts:
        """These facts followed by those of the shard after them."""
    def with_duplicates(self, count: int, rows: list[int]) -> ValidationFacts:
        """These facts with the repeated keys found across every shard."""
    def results(self) -> list[RuleResult]:
        """The rules' results."""
    def __reduce__(self) -> tuple[Callable[[bytes], ValidationFacts], tuple[bytes]]:
        """Pickling: the facts and options as JSON bytes, rebuilt by ``_from_bytes``."""
    @classmethod
    def _from_bytes(cls, data: bytes) -> ValidationFacts:
        """Facts pickled by ``__reduce__``; other bytes raise ``InvalidArgumentError``."""

def validation_facts(
    df: pl.DataFrame, enum_columns: list[str], options: ValidationOptions
) -> ValidationFacts:
    """The validation facts of one shard (``options``: a :class:`~dwcp_data.ValidationOptions`)."""

def check_validation_options(options: ValidationOptions) -> None:
    """Raises ``InvalidArgumentError`` naming the first option out of its domain."""

def check_cleaning_options(options: CleaningOptions) -> tuple[list[str], list[str] | None]:
    """Checks cleaning options; their column names as lists: ``(outlier_columns, by)``."""

def nan_as_null(df: _CoreFrame) -> tuple[pl.DataFrame, list[str]]:
    """The frame with float NaN as null, as cleaning takes it."""

def clean_block(
    df: _CoreFrame, keep: pl.Series, fills: list[tuple[str, float]]
) -> tuple[pl.DataFrame, list[str]]:
    """A block's rows as cleaning writes them: NaN as null, the rows ``keep`` keeps, nulls filled by ``fills``."""

def check_cleaning_columns(options: CleaningOptions, schema: _CoreFrame) -> None:
    """Raises ``DataError`` unless data of ``schema`` (an empty frame) has the columns ``options`` clean."""

#: A frame as ``dwcp_data._frames.to_core`` gives it: the frame and its Enum columns sent as codes.
_CoreFrame = tuple[pl.DataFrame, list[str]]
#: Row counts: ``(total, per group, per link type)``.
_RowCounts = tuple[int, list[int], list[int]]

@final
class BlockFence:
    """A column's fences as each block applies them (the core's one fence rule)."""

    def __new__(cls, column: str, lower: list[float | None], upper: list[float | None]) -> BlockFence:
        """Per group id the lower and upper bounds (``None`` both for a group without values)."""
    @property
    def column(self) -> str:
        """The outlier column."""
    @property
    def lower(self) -> list[float | None]:
        """Per group id, the lowest value kept."""
    @property
    def upper(self) -> list[float | None]:
        """Per group id, the highest value kept."""
    def apply(self, values: pl.Series, groups: pl.Series, keep: pl.Series) -> FenceResult:
        """The fences applied to a block's ``values`` (group ids ``groups``, rows still kept ``keep``)."""
    def __reduce__(self) -> tuple[type[BlockFence], tuple[str, list[float | None], list[float | None]]]: ...

@final
class FenceResult:
    """What a block's fence did."""

    @property
    def keep(self) -> pl.Series:
        """The rows kept after the fence."""
    @property
    def judged(self) -> list[int]:
        """Kept rows with a value, per group id."""
    @property
    def removed(self) -> list[int]:
        """Rows removed, per group id."""

@final
class Profile:
    """A data set's profile: per column, of every row and per group."""

    @staticmethod
    def of(df: pl.DataFrame, enum_columns: list[str], by: list[str]) -> Profile:
        """The profile of a frame (a block), per group of ``by`` (empty: none)."""
    def then(self, later: Profile) -> Profile:
        """This profile followed by ``later``'s, as one."""
    def drift_json(self, reference: Profile) -> str:
        """The drift from ``reference`` to this profile, per column and group, as JSON text."""
    def to_json(self) -> str:
        """The profile as JSON text."""
    @staticmethod
    def from_json(text: str) -> Profile:
        """A profile from the JSON text ``to_json`` made."""
    def __reduce__(self) -> tuple[Callable[[str], Profile], tuple[str]]: ...

@final
class GroupTable:
    """Group ids across blocks, numbered in order of first appearance."""

    def __new__(cls, by: list[str] | None, keys: _CoreFrame | None = None) -> GroupTable:
        """A table of the key columns ``by`` (``None``: pooled), holding ``keys`` if given."""
    @property
    def by(self) -> list[str] | None:
        """The key columns (``None``: pooled)."""
    def ids(self, df: _CoreFrame) -> pl.Series:
        """Each row's group id; keys not seen before are numbered on."""
    def count(self) -> int:
        """How many groups (1 when pooled)."""
    def keys(self) -> _CoreFrame | None:
        """The groups' keys, one row per id (``None`` when pooled)."""
    def __reduce__(self) -> tuple[type[GroupTable], tuple[list[str] | None, _CoreFrame | None]]: ...

@final
class FirstPass:
    """The first cleaning pass's partial of a block (or of several merged)."""

    def __new__(
        cls, rows: int, missing: list[tuple[str, int]], groups: GroupTable, links: GroupTable
    ) -> FirstPass:
        """A partial made again from its parts, as the getters give them."""
    @staticmethod
    def of(df: _CoreFrame, by: list[str] | None) -> FirstPass:
        """The partial of ``df``, its groups keyed by ``by`` (``None``: pooled)."""
    def then(self, later: FirstPass) -> None:
        """Adds ``later``'s rows to this partial's, in place."""
    @property
    def rows(self) -> int:
        """Rows seen."""
    @property
    def missing(self) -> list[tuple[str, int]]:
        """Each column's missing values (nulls; NaN too in float columns)."""
    @property
    def groups(self) -> GroupTable:
        """The groups, numbered in order of first appearance."""
    @property
    def links(self) -> GroupTable:
        """The link types, numbered in order of first appearance."""
    def __reduce__(
        self,
    ) -> tuple[type[FirstPass], tuple[int, list[tuple[str, int]], GroupTable, GroupTable]]: ...

@final
class CleaningPass:
    """One pass of a cleaning plan over every block."""

    @property
    def label(self) -> str:
        """What the pass is called."""
    @property
    def fence(self) -> BlockFence | None:
        """The fence every block applies first, if any."""
    @property
    def probes(self) -> list[tuple[str, list[tuple[int, _Probe]]]]:
        """Per column, the rank probes to answer over the rows still kept."""
    @property
    def grouped(self) -> bool:
        """Whether the probes are per group."""

@final
class CleaningPlan:
    """The passes of one cleaning of a data set, and what they make of the fences, medians and report."""

    def __new__(
        cls,
        options: CleaningOptions,
        schema: _CoreFrame,
        nulls: dict[str, int],
        groups: _CoreFrame | None,
        links: _CoreFrame | None,
    ) -> CleaningPlan:
        """The plan for data of ``schema`` whose columns hold ``nulls``, with the group
        keys of ``by`` (one row per group id; ``None`` when pooled) and the link types."""
    def next_pass(self) -> CleaningPass | None:
        """The next pass to run over every block, or ``None`` once done."""
    def take(
        self, partials: list[list[pl.Series]], nulls: list[int], judged: list[int], removed: list[int]
    ) -> None:
        """Takes the pass's results merged over every block, per column of the pass in its order."""
    def fills(self) -> list[tuple[str, float]]:
        """Each imputed column's fill value, once done."""
    def report(self, duplicates: int, rows_in: _RowCounts, rows_out: _RowCounts) -> CleaningReportDict:
        """The cleaning report, once done."""

def feature_matrix(
    df: pl.DataFrame,
    enum_columns: list[str],
    numeric: list[str],
    one_hot: list[str],
    out: npt.NDArray[np.float32] | None = None,
) -> tuple[npt.NDArray[np.float32], list[str]]:
    """The columns ``numeric`` then ``one_hot`` of ``df`` as a C-contiguous float32
    array (moved to NumPy, not copied) and the array's column names; with
    ``out`` (a writeable C-contiguous float32 array of that shape), written
    into ``out``, which is returned."""
