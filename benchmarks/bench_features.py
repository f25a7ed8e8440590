"""Features: dwcp_data.features (X and y) vs idiomatic Polars and pandas building the same arrays.

Usage: python benchmarks/bench_features.py [--rows N] [--repeat K]

Every side builds the same C-contiguous float32 matrix (the numeric §2.3 fields,
nulls as NaN, then one-hot link_type and data_type) and the int8 label codes
from a labelled frame; the script checks the arrays are equal before timing.
A second dwcp_data row writes into one reused ``out`` array (no fresh pages
for the kernel to zero), as a training loop over same-sized shards would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

import dwcp_data

from _common import frame_arguments, interleaved_medians, print_table

ONE_HOT = {"link_type": dwcp_data.LINK_TYPES, "data_type": dwcp_data.DATA_TYPES}
NUMERIC = [c for c in dwcp_data.FEATURES if c not in ONE_HOT]


def features_polars(df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Idiomatic Polars: select the columns, one-hot with expressions, to_numpy in C order."""
    one_hot = [
        pl.when(pl.col(c).is_null()).then(None).otherwise((pl.col(c) == v).cast(pl.Float32)).alias(f"{c}={v}")
        for c, values in ONE_HOT.items()
        for v in values
    ]
    X = df.select(pl.col(NUMERIC).cast(pl.Float32), *one_hot).to_numpy(order="c")
    y = df[dwcp_data.LABEL_COLUMN].to_physical().cast(pl.Int8).fill_null(-1).to_numpy()
    return X, y


def features_pandas(pdf: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """pandas: get_dummies on the categories, then to_numpy as float32."""
    dummies = pd.get_dummies(pdf[list(ONE_HOT)], dtype=np.float32)
    for c, values in ONE_HOT.items():  # a null category is missing in every one of its columns
        dummies.loc[pdf[c].isna(), [f"{c}_{v}" for v in values]] = np.nan
    frame = pd.concat(
        [pdf[NUMERIC].astype(np.float32), dummies[[f"{c}_{v}" for c, vs in ONE_HOT.items() for v in vs]]],
        axis=1,
    )
    X = np.ascontiguousarray(frame.to_numpy(dtype=np.float32, na_value=np.nan))
    y = pdf[dwcp_data.LABEL_COLUMN].cat.codes.to_numpy().astype(np.int8)
    return X, y


def main() -> None:
    args = frame_arguments(__doc__, repeat=5, medians_of=" rounds (each side once per round)")
    df = dwcp_data.label_oracle(dwcp_data.generate_synthetic(args.rows, seed=1, freq="1m"))
    pdf = df.select(*NUMERIC, *ONE_HOT, dwcp_data.LABEL_COLUMN).to_pandas()
    ours = dwcp_data.features(df)
    for name, (X, y) in [("polars", features_polars(df)), ("pandas", features_pandas(pdf))]:
        np.testing.assert_array_equal(X, ours.X, err_msg=name)
        np.testing.assert_array_equal(y, ours.y, err_msg=name)
        assert X.flags.c_contiguous and X.dtype == np.float32
    out = np.empty_like(ours.X)
    np.testing.assert_array_equal(dwcp_data.features(df, out=out).X, ours.X, err_msg="out=")
    rows = interleaved_medians(
        {
            "dwcp_data.features": lambda: dwcp_data.features(df),
            "dwcp_data.features(out=X), reused": lambda: dwcp_data.features(df, out=out),
            "Polars select + to_numpy(order='c')": lambda: features_polars(df),
            "pandas get_dummies + to_numpy": lambda: features_pandas(pdf),
        },
        args.repeat,
    )
    print_table(
        f"features ({ours.X.shape[0]:,} x {ours.X.shape[1]} float32)", rows, ours="dwcp_data.features"
    )


if __name__ == "__main__":
    main()
