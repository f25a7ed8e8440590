"""Data sets larger than memory (see :mod:`dwcp_data.datasets`): the stages and
the data-set class where they have always been importable from."""

from __future__ import annotations

from dwcp_data.datasets import (
    Dataset,
    DatasetSource,
    Shard,
    clean_dataset,
    label_dataset,
    named_paths,
    open_dataset,
    validate_dataset,
)

__all__ = [
    "Dataset",
    "DatasetSource",
    "Shard",
    "clean_dataset",
    "label_dataset",
    "named_paths",
    "open_dataset",
    "validate_dataset",
]
