"""The options of validation and cleaning, each defined once.

:func:`~dwcp_data.validate`, :func:`~dwcp_data.clean`, the data-set stages,
the Ray engine and the pipelines all take their thresholds from these
classes: the defaults are the class attributes (``CleaningOptions.iqr_k`` is
1.5), and the checks run in the compiled core when an object is made, so an
option has one default and one domain wherever it is used. A function taking
the options as keywords types them ``**options: Unpack[ValidationKeywords]``
(or :class:`CleaningKeywords`) and shows them, with these defaults, through
``dwcp_data._keywords.spelled_out``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypedDict

from dwcp_data import _core
from dwcp_data._convert import epoch_us, utc_datetime

__all__ = [
    "DEFAULT_OUTLIER_COLUMNS",
    "CleaningKeywords",
    "CleaningOptions",
    "Profile",
    "ValidationKeywords",
    "ValidationOptions",
]

#: Which rules :func:`~dwcp_data.validate` runs.
Profile = Literal["document", "strict"]

#: The columns §5.2 fences, in its order.
DEFAULT_OUTLIER_COLUMNS: tuple[str, ...] = ("rtt_ms", "available_bandwidth_mbps", "data_size_bytes")


@dataclass(frozen=True)
class ValidationOptions:
    """The rules :func:`~dwcp_data.validate` runs and their thresholds.

    Attributes:
        profile: ``"document"`` (§5.1) or ``"strict"``.
        min_rows: fewest rows a training set may have.
        max_missing_fraction: each column's share of nulls must be below this.
        min_class_share: each class's share must be above this.
        now: the strict profile's latest allowed timestamp (aware, UTC; a
            naive one is taken as UTC); ``None``: the moment of the check.
        max_examples: how many failing rows each result lists.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an option is out of its domain.
    """

    profile: Profile = "document"
    min_rows: int = 10_000
    max_missing_fraction: float = 0.1
    min_class_share: float = 0.05
    now: datetime | None = None
    max_examples: int = 5

    def __post_init__(self) -> None:
        if self.now is not None:
            object.__setattr__(self, "now", utc_datetime(self.now, "now"))
        _core.check_validation_options(self)

    def resolved(self) -> ValidationOptions:
        """These options with ``now`` fixed (the current second when ``None``):
        every part of one check must judge against the same moment."""
        return self if self.now is not None else dataclasses.replace(self, now=utc_datetime(None, "now"))

    @property
    def now_us(self) -> int:
        """``now`` in microseconds since the epoch (the current second when ``None``)."""
        return epoch_us(utc_datetime(self.now, "now"))


@dataclass(frozen=True)
class CleaningOptions:
    """What :func:`~dwcp_data.clean` does (its steps are described there).

    Attributes:
        dedupe: remove exact duplicate rows.
        outlier_columns: numeric columns to fence, in order (one name or a
            sequence; kept as a tuple).
        iqr_k: fence width in IQRs (finite, >= 0).
        by: column(s) to compute fences per group of (kept as a tuple);
            ``None`` for pooled fences.
        impute: ``"median"`` or ``None`` (leave nulls).

    Raises:
        dwcp_data.errors.InvalidArgumentError: an option is out of its domain.
    """

    dedupe: bool = True
    outlier_columns: str | Sequence[str] = DEFAULT_OUTLIER_COLUMNS
    iqr_k: float = 1.5
    by: str | Sequence[str] | None = None
    impute: Literal["median"] | None = "median"

    def __post_init__(self) -> None:
        columns, by = _core.check_cleaning_options(self)
        object.__setattr__(self, "outlier_columns", tuple(columns))
        object.__setattr__(self, "by", None if by is None else tuple(by))


class ValidationKeywords(TypedDict, total=False):
    """:class:`ValidationOptions` as keywords, for type checkers (each optional)."""

    profile: Profile
    min_rows: int
    max_missing_fraction: float
    min_class_share: float
    now: datetime | None
    max_examples: int


class CleaningKeywords(TypedDict, total=False):
    """:class:`CleaningOptions` as keywords, for type checkers (each optional)."""

    dedupe: bool
    outlier_columns: str | Sequence[str]
    iqr_k: float
    by: str | Sequence[str] | None
    impute: Literal["median"] | None
