"""Frames crossing the Rust/Python boundary."""

from __future__ import annotations

import polars as pl

__all__ = ["from_core"]


def from_core(df: pl.DataFrame) -> pl.DataFrame:
    """A frame returned by ``_core``, ready for users."""
    return df
