"""A reference compression selector: a gradient-boosted classifier trained on
the oracle's labels (extra ``dwcp-data[train]``: LightGBM).

It is the yardstick a production selector has to beat: trained on the older
rows of a labelled frame, judged by its regret against the oracle on the
newest rows (:func:`~dwcp_data.split_by_time`), next to the regret of the
logged policy (``current_compression``) and of always choosing baseline.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import polars as pl

from dwcp_data import _json
from dwcp_data._convert import iso_timestamp, positive_int
from dwcp_data._core import __version__
from dwcp_data._frames import FrameLike, to_polars
from dwcp_data._model_text import ModelTextError, check_model_text
from dwcp_data.datasets import Dataset
from dwcp_data.errors import DataError, DwcpDataError, InvalidArgumentError
from dwcp_data.features import (
    FEATURES,
    check_test_fraction,
    feature_matrix,
    feature_names_of,
    features,
    regret,
)
from dwcp_data.io import Source, atomic_path
from dwcp_data.labelling import LABEL_COLUMN, label_oracle
from dwcp_data.schema import COMPRESSIONS

__all__ = ["Selector", "card_path", "load", "train"]

#: The prediction's column name and type.
PREDICTION = "selected_compression"


#: How the model file is stored: LightGBM's own text format, which runs no code on load.
MODEL_FORMAT = "lightgbm-text"


@dataclass
class Selector:
    """A trained selector and its model card.

    Attributes:
        booster: the fitted ``lightgbm.Booster``.
        card: what it was trained on and how it did (see :func:`train`),
            JSON-serialisable; ``classes`` maps the booster's outputs to engines.
    """

    booster: Any
    card: dict[str, Any]

    def predict(self, df: FrameLike) -> pl.Series:
        """The engine chosen for each row of ``df``, as an ``Enum`` Series
        named ``selected_compression`` (the oracle's columns are not needed)."""
        X = feature_matrix(to_polars(df), list(self.card["columns"]))[0]
        engines = pl.Series(PREDICTION, COMPRESSIONS, dtype=pl.Enum(list(COMPRESSIONS)))
        if not len(X):
            return engines.clear()
        scores = np.asarray(self.booster.predict(X)).reshape(len(X), -1)
        classes = np.asarray(self.card["classes"])
        picked = (
            classes[scores.argmax(axis=1)]
            if scores.shape[1] > 1
            else classes[(scores[:, 0] > 0.5).astype(int)]
        )
        return engines.gather(pl.Series(picked, dtype=pl.UInt32))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the model to ``path`` in LightGBM's text format, then its card
        beside it (:func:`card_path`) with the model's SHA-256, each
        atomically; returns ``path``. The card is written last: a reader that
        finds a card whose digest does not match the model refuses both."""
        path = Path(path)
        if path.is_dir():
            raise InvalidArgumentError.of("path", f"{str(path)!r} is a folder; name the model file to write")
        model = self.booster.model_to_string().encode()
        with atomic_path(path) as tmp:
            tmp.write_bytes(model)
        self.card = {
            **self.card,
            "model_format": MODEL_FORMAT,
            "model_sha256": hashlib.sha256(model).hexdigest(),
        }
        with atomic_path(card_path(path)) as tmp:
            tmp.write_text(_json.dumps(self.card, indent=2))
        return path


def card_path(path: str | os.PathLike[str]) -> Path:
    """The model card beside a saved model: ``selector.txt`` → ``selector.txt.card.json``."""
    path = Path(path)
    return path.with_name(f"{path.name}.card.json")


def load(path: str | os.PathLike[str]) -> Selector:
    """A selector saved by :meth:`Selector.save`.

    The card is read and checked first (its ``columns`` must make exactly
    its ``feature_names``, its ``classes`` be distinct engines); the model
    file must have the SHA-256 the card records; its text is checked before
    LightGBM parses it (the header's classes, outputs and features are the
    card's, every tree is whole and its indices stay inside it: LightGBM's
    own parser trusts its input), and the parsed model's features and
    outputs are compared with the card's once more. No code runs, unlike a
    pickle.

    Raises:
        dwcp_data.errors.InvalidArgumentError: no model at ``path`` (``param="path"``).
        dwcp_data.errors.DataError: the card is missing, not ours, corrupt or
            does not describe the model (rule ``model_card``), the model's
            digest differs from the card's (rule ``model_digest``), or the
            model is not a whole LightGBM text model (rule ``model_format``).
    """
    from lightgbm import Booster

    path = Path(path)
    if not path.is_file():
        raise InvalidArgumentError.of("path", f"no saved model at {str(path)!r}")
    card_file = card_path(path)

    def refuse(message: str, rule: str) -> DataError:
        return DataError(message, column="", row=None, rule=rule)

    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise refuse(
            f"{card_file}: the model card is missing; a model is loaded with its card", "model_card"
        ) from None
    except (OSError, ValueError) as exc:
        raise refuse(f"{card_file}: not a readable model card ({exc})", "model_card") from None
    if not isinstance(card, dict) or card.get("model_format") != MODEL_FORMAT or "model_sha256" not in card:
        raise refuse(
            f"{card_file}: not a dwcp-data model card (no {MODEL_FORMAT} model digest)", "model_card"
        )
    model = path.read_bytes()
    digest = hashlib.sha256(model).hexdigest()
    if digest != card["model_sha256"]:
        raise refuse(
            f"{path}: the model's SHA-256 is {digest}, its card expects {card['model_sha256']}: the model "
            "was replaced or damaged, or the card belongs to another model",
            "model_digest",
        )
    names, outputs = _card_shape(card, card_file, refuse)
    try:
        check_model_text(model.decode("utf-8"), names, outputs)
    except UnicodeDecodeError:
        raise refuse(f"{path}: not a LightGBM text model (not UTF-8 text)", "model_format") from None
    except ModelTextError as exc:
        raise refuse(f"{path}: not the model its card describes: {exc}", exc.rule) from None
    try:
        booster = Booster(model_str=model.decode())
    except Exception as exc:  # LightGBM raises its own LightGBMError, or a decoding error
        raise refuse(f"{path}: not a LightGBM model ({exc})", "model_format") from None
    if booster.feature_name() != names or booster.num_model_per_iteration() != outputs:
        raise refuse(
            f"{path}: the model's features {booster.feature_name()} and {booster.num_model_per_iteration()} "
            f"output(s) are not its card's {names} and {outputs}",
            "model_card",
        )
    return Selector(booster, card)


def _card_shape(
    card: dict[str, Any], card_file: Path, refuse: Callable[[str, str], DataError]
) -> tuple[list[str], int]:
    """The feature names and outputs per round the card promises, after
    checking that its ``columns`` make exactly its ``feature_names`` (in
    order) and its ``classes`` are distinct engines; raises ``DataError``
    (rule ``model_card``) otherwise."""
    columns, classes, names = card.get("columns"), card.get("classes"), card.get("feature_names")
    if not (_strings(columns) and _strings(names)):
        raise refuse(f"{card_file}: the card lists no `columns` and `feature_names`", "model_card")
    engines = range(len(COMPRESSIONS))
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or len(set(classes)) != len(classes)
        or not all(isinstance(c, int) and not isinstance(c, bool) and c in engines for c in classes)
    ):
        raise refuse(
            f"{card_file}: the card's `classes` {classes!r} are not two or more distinct engines",
            "model_card",
        )
    try:
        made = list(feature_names_of(columns))
    except DwcpDataError as exc:
        raise refuse(
            f"{card_file}: the card's `columns` are not model inputs ({exc})", "model_card"
        ) from None
    if made != names:
        raise refuse(
            f"{card_file}: the card's `columns` {columns} make the features {made}, not its `feature_names` "
            f"{names}: the card was edited",
            "model_card",
        )
    return names, 1 if len(classes) == 2 else len(classes)


def _strings(value: object) -> TypeGuard[list[str]]:
    """Whether ``value`` is a non-empty list of strings."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


#: Rows the reference selector trains on at most (a time-stratified sample
#: beyond that). Measured on this project's synthetic data (BENCHMARKS.md):
#: held-out accuracy and regret stop improving past a few hundred thousand
#: rows, while the fit's time keeps growing with the rows.
SAMPLE_ROWS = 500_000


def train(
    data: FrameLike | Source,
    *,
    test_fraction: float = 0.2,
    sample_rows: int = SAMPLE_ROWS,
    columns: tuple[str, ...] = FEATURES,
    n_estimators: int = 200,
    seed: int = 0,
) -> Selector:
    """Trains the reference selector on the older rows of ``data`` and judges it on the newest.

    ``data`` is a frame, or a data set larger than memory: a folder (a
    published training set), glob or list of Parquet/CSV shards, read one
    shard at a time. The newest ``test_fraction`` of the rows are held out:
    every row at or after the second where they begin (so a second never
    lands on both sides). Both parts are sampled at one rate, at most
    ``sample_rows`` training rows, spread over the shards and so over time in
    proportion to their rows (seed ``seed``); the model inputs of each shard's
    sample are written into one array (:func:`~dwcp_data.features` with
    ``out=``), so memory follows the sample, not the data. Rows are labelled
    with :func:`~dwcp_data.label_oracle` first if needed; rows without a
    label (no engine could be estimated) are not trained on.

    The model is LightGBM's ``LGBMClassifier`` (``n_estimators`` boosting
    rounds; NaN handled natively, no scaling), deterministic for a given
    ``seed`` whatever the thread count. Chosen by measurement over
    scikit-learn's ``HistGradientBoostingClassifier`` (240k training rows,
    200 rounds, this project's synthetic data): the same held-out accuracy
    (0.8637 vs 0.8635) and regret (7.64 vs 7.73 ms per row), 1.6x faster to
    fit and 1.8x faster to predict.

    The card records the data window and rows of both parts, the sample, the
    features, the model's parameters, and on the held-out sample the regret
    (see :func:`~dwcp_data.regret`) of the model, of the logged policy
    (``current_compression``) and of always choosing baseline.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an argument is out of its domain,
            or the training part holds no labelled row.
        dwcp_data.errors.DataError: ``timestamp`` is absent or has nulls.
    """
    from lightgbm import LGBMClassifier

    positive_int(n_estimators, "n_estimators")
    positive_int(sample_rows, "sample_rows")
    check_test_fraction(test_fraction)
    parts = _Parts(data)
    cut, rows_train, rows_held_out = parts.cut(test_fraction)
    rate = min(1.0, sample_rows / rows_train) if rows_train else 1.0
    names = features(parts.frame(0).head(0), columns=columns).feature_names
    sizes = parts.sample_sizes(cut, rate)
    X, y, held_out = _sampled(parts, sizes, cut, columns, len(names), seed)
    labelled = y >= 0
    if not labelled.any():
        raise InvalidArgumentError.of("data", "no labelled row to train on")
    params: dict[str, Any] = {
        "n_estimators": n_estimators,
        "random_state": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    model = LGBMClassifier(**params).fit(X[labelled], y[labelled], feature_name=list(names))
    selector = Selector(
        model.booster_, {"columns": list(columns), "classes": [int(c) for c in model.classes_]}
    )
    chosen = selector.predict(held_out)
    selector.card = {
        "model": "lightgbm.LGBMClassifier",
        "classes": selector.card["classes"],
        "params": params,
        "created": datetime.now(timezone.utc).isoformat(),
        "dwcp_data": __version__,
        "columns": list(columns),
        "feature_names": list(names),
        "engines": list(COMPRESSIONS),
        "rows": {"train": rows_train, "trained_on": int(labelled.sum()), "held_out": rows_held_out},
        "sample": {
            "rate": rate,
            "seed": seed,
            "train": int(X.shape[0]),
            "held_out": held_out.height,
            "shards": len(sizes),
            "split": "the newest test_fraction of the rows, by the second",
            "test_fraction": test_fraction,
        },
        "window": parts.window,
        "regret_held_out": {
            "model": regret(held_out, chosen).to_dict(),
            "logged_policy": regret(held_out, "current_compression").to_dict(),
            "always_baseline": regret(held_out, "baseline").to_dict(),
        },
    }
    return selector


def _sampled(
    parts: _Parts,
    sizes: list[tuple[int, int]],
    cut: int,
    columns: tuple[str, ...],
    width: int,
    seed: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int8], pl.DataFrame]:
    """The training sample of every shard (``sizes``: rows to sample before
    and after ``cut``, per shard) as one feature matrix and its labels,
    written in place shard by shard, and the held-out sample as a frame."""
    X = np.empty((sum(n for n, _ in sizes), width), dtype=np.float32)
    y = np.empty(X.shape[0], dtype=np.int8)
    held: list[pl.DataFrame] = []
    first = 0
    for i, (n_train, n_held) in enumerate(sizes):
        frame = parts.frame(i)
        older = frame["timestamp"].dt.epoch("us") < cut
        train_part = _sample(frame.filter(older), n_train, seed + i)
        y[first : first + n_train] = features(train_part, columns=columns, out=X[first : first + n_train]).y
        first += n_train
        held.append(_sample(frame.filter(~older), n_held, seed + i))
    return X, y, pl.concat(held) if held else pl.DataFrame()


def _sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """``n`` of ``frame``'s rows drawn without replacement (seeded), in their order."""
    if n >= frame.height:
        return frame
    picked = np.sort(np.random.default_rng(seed).choice(frame.height, size=n, replace=False))
    return frame[picked]


class _Parts:
    """The training data a part at a time: one frame, or the shards of a data
    set (each labelled as it is read, if it has no label)."""

    def __init__(self, data: FrameLike | Source) -> None:
        if isinstance(data, (str, os.PathLike, list, tuple)):
            self.dataset: Dataset | None = Dataset(data)
            self.whole: pl.DataFrame | None = None
        else:
            self.dataset, self.whole = None, to_polars(data)
        self.count = 1 if self.dataset is None else len(self.dataset)
        self.seconds: list[pl.DataFrame] = []

    def frame(self, i: int) -> pl.DataFrame:
        frame = self.whole if self.dataset is None else self.dataset.read(i)
        assert frame is not None
        if "timestamp" not in frame.columns:
            raise DataError(
                "column `timestamp`: the column is absent", column="timestamp", row=None, rule="split"
            )
        return frame if LABEL_COLUMN in frame.columns else label_oracle(frame)

    def _times(self, i: int) -> pl.Series:
        if self.dataset is None:
            assert self.whole is not None
            return self.whole["timestamp"]
        return self.dataset.read(i, ["timestamp"])["timestamp"]

    def cut(self, test_fraction: float) -> tuple[int, int, int]:
        """The second where the newest ``test_fraction`` of the rows begin (in
        µs since the epoch, from rows per second, merged over the parts), and
        the rows before and from it. Times are integers throughout: a Polars
        Datetime holds years a Python datetime cannot."""
        per_second: Counter[int] = Counter()
        for i in range(self.count):
            times = self._times(i)
            if times.null_count():
                row = int(times.is_null().arg_true()[0])
                raise DataError(
                    f"column `timestamp`, row {row}: a row without a time cannot be placed before or after the cut",
                    column="timestamp",
                    row=row,
                    rule="split",
                )
            counts = (times.dt.epoch("us") // 1_000_000).value_counts()
            per_second.update(dict(counts.iter_rows()))
        rows = sum(per_second.values())
        wanted, newest = math.ceil(rows * test_fraction), 0
        cut = max(per_second, default=2**62)
        for second in sorted(per_second, reverse=True):
            cut = second
            newest += per_second[second]
            if newest >= wanted:
                break
        held = sum(n for s, n in per_second.items() if s >= cut)
        older = [s for s in per_second if s < cut]
        newer = [s for s in per_second if s >= cut]

        def span(seconds: list[int]) -> list[str | None]:
            return (
                [iso_timestamp(min(seconds) * 10**6), iso_timestamp(max(seconds) * 10**6)]
                if seconds
                else [None, None]
            )

        #: The first and last second of each part of the split, ISO 8601.
        self.window = {"train": span(older), "held_out": span(newer)}
        return cut * 1_000_000, rows - held, held

    def sample_sizes(self, cut: int, rate: float) -> list[tuple[int, int]]:
        """Each part's training and held-out sample sizes at ``rate``."""
        sizes = []
        for i in range(self.count):
            older = int((self._times(i).dt.epoch("us") < cut).sum())
            newer = self._times(i).len() - older
            sizes.append((round(older * rate), round(newer * rate)))
        return sizes
