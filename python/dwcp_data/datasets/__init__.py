"""The out-of-core wing: data sets larger than memory, shard by shard, with the in-memory answers.

* :mod:`~dwcp_data.datasets.shards`: what a data set holds, and its blocks;
* :mod:`~dwcp_data.datasets.engine`: what a runner does (kernels over blocks,
  block state, shuffles); :mod:`~dwcp_data.datasets.local` runs them in this
  process, :mod:`~dwcp_data.datasets.ray` as Ray tasks (the one module that
  imports Ray), :mod:`~dwcp_data.datasets.runners` picks one for an engine;
* :mod:`~dwcp_data.datasets.passes`: the stages as passes of kernels whose
  partials merge into the in-memory answers; :mod:`~dwcp_data.datasets.cleaner`
  the cleaning's passes, as the core's cleaning plan asks for them;
* :mod:`~dwcp_data.datasets.stages`: ``validate_dataset``, ``clean_dataset``,
  ``label_dataset``.

Layers import downwards only: stages → cleaner → passes → engine → shards,
and stages → runners → local → engine (and ``ray`` beside ``local``, imported
when the Ray engine is asked for).
"""

from __future__ import annotations

from dwcp_data.datasets.shards import Dataset, DatasetSource, Shard, named_paths, open_dataset
from dwcp_data.datasets.stages import StageSettings, clean_dataset, label_dataset, validate_dataset

__all__ = [
    "Dataset",
    "DatasetSource",
    "Shard",
    "StageSettings",
    "clean_dataset",
    "label_dataset",
    "named_paths",
    "open_dataset",
    "validate_dataset",
]
