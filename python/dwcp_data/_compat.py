"""The polars versions this build exchanges frames with safely."""

from __future__ import annotations

import re

import polars as pl

from dwcp_data.errors import IncompatiblePolarsError

#: Oldest supported polars: 1.31 turns Enum columns into Categorical on the way in.
MIN_POLARS = (1, 32)
#: First unsupported polars: frames cross through polars' FFI, untested beyond.
MAX_POLARS_EXCLUSIVE = (2, 2)


def _version_tuple(version: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise IncompatiblePolarsError(f"cannot read the polars version {version!r}")
    return int(match[1]), int(match[2])


def check_polars_version(version: str = pl.__version__) -> None:
    """Raise :class:`IncompatiblePolarsError` unless ``version`` is supported."""
    found = _version_tuple(version)
    if not MIN_POLARS <= found < MAX_POLARS_EXCLUSIVE:
        low = ".".join(map(str, MIN_POLARS))
        high = ".".join(map(str, MAX_POLARS_EXCLUSIVE))
        raise IncompatiblePolarsError(
            f"dwcp_data needs polars >= {low} and < {high}, but polars {version} is installed; "
            f"run: pip install 'polars>={low},<{high}'"
        )
