"""dwcp-data: the training-data pipeline for DWCP's ML compression selector.

Hot paths run in Rust and hand :class:`polars.DataFrame` objects across without
copying column buffers.
"""

from __future__ import annotations

from dwcp_data._compat import check_polars_version

check_polars_version()

from dwcp_data import errors  # noqa: E402
from dwcp_data._core import __version__  # noqa: E402
from dwcp_data.cleaning import CleaningReport, clean, clean_training_data  # noqa: E402
from dwcp_data.datasets import Dataset, clean_dataset, label_dataset, validate_dataset  # noqa: E402
from dwcp_data.drift import DriftOptions, DriftReport, drift  # noqa: E402
from dwcp_data.engines import LocalEngine, RayEngine  # noqa: E402
from dwcp_data.features import FEATURES, Features, RegretReport, features, regret, split_by_time  # noqa: E402
from dwcp_data.generator import generate_synthetic, iter_synthetic, iter_synthetic_shards  # noqa: E402
from dwcp_data.io import ReadReport, read_training_data, write_frames, write_training_data  # noqa: E402
from dwcp_data.labelling import ESTIMATE_COLUMNS, LABEL_COLUMN, LABEL_SCHEMA, label_oracle  # noqa: E402
from dwcp_data.options import CleaningOptions, ValidationOptions  # noqa: E402
from dwcp_data.pipeline import PipelineResult, run_pipeline  # noqa: E402
from dwcp_data.profiles import Profile, load_profile, profile  # noqa: E402
from dwcp_data.quality import quality_metrics  # noqa: E402
from dwcp_data.schema import (  # noqa: E402
    COLUMNS,
    COMPRESSIONS,
    DATA_TYPES,
    LINK_TYPES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SCHEMA,
    ColumnInfo,
)
from dwcp_data.validation import (  # noqa: E402
    RuleResult,
    ValidationReport,
    validate,
    validate_training_data,
)

__all__ = [
    "COLUMNS",
    "COMPRESSIONS",
    "DATA_TYPES",
    "ESTIMATE_COLUMNS",
    "FEATURES",
    "LABEL_COLUMN",
    "LABEL_SCHEMA",
    "LINK_TYPES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCHEMA",
    "CleaningOptions",
    "CleaningReport",
    "ColumnInfo",
    "Dataset",
    "DriftOptions",
    "DriftReport",
    "Features",
    "LocalEngine",
    "PipelineResult",
    "Profile",
    "RayEngine",
    "ReadReport",
    "RegretReport",
    "RuleResult",
    "ValidationOptions",
    "ValidationReport",
    "__version__",
    "clean",
    "clean_dataset",
    "clean_training_data",
    "drift",
    "errors",
    "features",
    "generate_synthetic",
    "iter_synthetic",
    "iter_synthetic_shards",
    "label_dataset",
    "label_oracle",
    "load_profile",
    "profile",
    "quality_metrics",
    "read_training_data",
    "regret",
    "run_pipeline",
    "split_by_time",
    "validate",
    "validate_dataset",
    "validate_training_data",
    "write_frames",
    "write_training_data",
]
