"""Oracle labels: which compression path would have finished each transfer first."""

from __future__ import annotations

import polars as pl

from dwcp_data import _core
from dwcp_data._frames import FrameLike, from_core, to_core, to_polars
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.schema import COMPRESSIONS

__all__ = ["ESTIMATE_COLUMNS", "LABEL_COLUMN", "LABEL_SCHEMA", "label_oracle"]

#: Estimated end-to-end time per engine, in milliseconds.
ESTIMATE_COLUMNS: tuple[str, ...] = ("est_time_hde_ms", "est_time_amst_ms", "est_time_baseline_ms")
#: The label: the engine with the smallest estimate.
LABEL_COLUMN = "oracle_compression"
#: The columns :func:`label_oracle` adds, with their types.
LABEL_SCHEMA: pl.Schema = pl.Schema(
    [*((c, pl.Float64()) for c in ESTIMATE_COLUMNS), (LABEL_COLUMN, pl.Enum(list(COMPRESSIONS)))]
)


def label_oracle(df: FrameLike, *, cpu_weight: float = 0.0) -> pl.DataFrame:
    """Add each engine's estimated time and the oracle label.

    The design document names "performance metrics for oracle computation"
    but never defines the oracle. This one estimates, per row and engine::

        est_time_ms = compression_time_ms
                      + compressed_size_bytes * 8 / (rate_mbps * 1000)
                      + rtt_ms
                      + cpu_weight * cpu_usage * compression_time_ms

    where AMST sends at ``amst_transfer_rate_mbps`` and HDE and baseline at
    ``available_bandwidth_mbps`` (the generator's transfer-time model, without
    its noise). ``cpu_weight`` lets a busy node prefer cheaper engines: at 0 the
    label is the fastest engine; larger weights charge compression time
    proportionally to CPU load.

    ``oracle_compression`` (``Enum[hde, amst, baseline]``) is the engine with
    the smallest estimate; ties go to the first of hde, amst, baseline. An
    engine whose inputs are null (or NaN) did not run for that row and cannot
    win; a row where no engine can be estimated gets a null label.

    Args:
        df: a polars DataFrame or LazyFrame, a pandas DataFrame or a pyarrow Table.
        cpu_weight: weight of the CPU penalty (finite, >= 0).

    Returns:
        ``df`` with ``est_time_hde_ms``, ``est_time_amst_ms``,
        ``est_time_baseline_ms`` and ``oracle_compression`` added (replaced if present).

    Raises:
        dwcp_data.errors.DataError: a column the estimates need is absent or not numeric.
        dwcp_data.errors.InvalidArgumentError: ``cpu_weight`` is out of its domain.
    """
    if not isinstance(cpu_weight, (int, float)) or isinstance(cpu_weight, bool):
        raise InvalidArgumentError.of("cpu_weight", f"expected a number, got {cpu_weight!r}")
    core_frame, enum_columns = to_core(to_polars(df))
    return from_core(_core.label_oracle(core_frame, enum_columns, float(cpu_weight)))
