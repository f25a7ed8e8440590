"""Type stubs of the compiled core, ``dwcp_data._core`` (src/python/mod.rs)."""

import polars as pl

__version__: str

def schema_columns() -> list[tuple[str, str, list[str], str, str, str]]:
    """The schema as ``(name, kind, categories, unit, description, role)`` tuples, in order."""

def generate_synthetic(n: int, seed: int, end_us: int, freq_us: int) -> pl.DataFrame:
    """``n`` synthetic rows; the last timestamp is ``end_us``, steps ``freq_us`` apart (µs)."""
