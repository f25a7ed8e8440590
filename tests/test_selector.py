"""The reference selector: trained on the oracle's labels, judged by regret on the newest rows."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil

import polars as pl
import pytest
from polars.testing import assert_series_equal

import dwcp_data
from dwcp_data import selector
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import END


@pytest.fixture(scope="module")
def week() -> pl.DataFrame:
    return dwcp_data.generate_synthetic(40_000, seed=3, end=END, freq="15s")


@pytest.fixture(scope="module")
def trained(week) -> selector.Selector:
    return selector.train(week, n_estimators=40)


def test_the_model_beats_the_logged_policy_on_rows_it_never_saw(trained, week):
    card = trained.card
    assert card["rows"] == {"train": 32_000, "trained_on": 32_000, "held_out": 8_000}
    assert card["window"]["train"][1] < card["window"]["held_out"][0]
    regret = card["regret_held_out"]
    model, logged, baseline = (regret[k]["mean_ms"] for k in ("model", "logged_policy", "always_baseline"))
    assert model < logged and model < baseline, regret
    assert regret["model"]["oracle_share"] > 0.8
    assert card["feature_names"] == list(dwcp_data.features(week.head(10)).feature_names)
    json.dumps(card)


def test_predictions_are_engines_and_repeatable(trained, week):
    unlabelled = week.tail(500)
    chosen = trained.predict(unlabelled)
    assert chosen.name == "selected_compression" and chosen.dtype == pl.Enum(list(dwcp_data.COMPRESSIONS))
    assert chosen.len() == 500 and chosen.null_count() == 0
    again = selector.train(week, n_estimators=40).predict(unlabelled)
    assert_series_equal(chosen, again)
    assert trained.predict(week.clear()).len() == 0


def test_save_and_load_round_trip_atomically(tmp_path, trained, week):
    path = trained.save(tmp_path / "staging" / "selector.txt")
    assert sorted(p.name for p in path.parent.iterdir()) == ["selector.txt", "selector.txt.card.json"]
    assert json.loads(selector.card_path(path).read_text()) == json.loads(json.dumps(trained.card))
    assert path.read_text().startswith("tree\n"), "LightGBM's text format, no pickle"
    card = json.loads(selector.card_path(path).read_text())
    assert card["model_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = selector.load(path)
    assert_series_equal(loaded.predict(week.head(300)), trained.predict(week.head(300)))


def test_a_swapped_or_damaged_model_is_refused_before_it_is_parsed(tmp_path, trained, week):
    first = trained.save(tmp_path / "a" / "selector.txt")
    other = selector.train(week.head(20_000), n_estimators=5).save(tmp_path / "b" / "selector.txt")
    shutil.copy(other, first)  # the model swapped, its card kept
    with pytest.raises(DataError, match="SHA-256") as e:
        selector.load(first)
    assert e.value.rule == "model_digest"
    evil = tmp_path / "evil.txt"
    evil.write_bytes(pickle.dumps(print))  # what a pickle-loading selector would have run
    shutil.copy(selector.card_path(first), selector.card_path(evil))
    with pytest.raises(DataError, match="SHA-256"):
        selector.load(evil)


def test_missing_foreign_and_corrupt_files_raise_our_errors(tmp_path, trained):
    with pytest.raises(InvalidArgumentError) as e:
        selector.load(tmp_path / "absent.txt")
    assert e.value.param == "path"
    with pytest.raises(InvalidArgumentError) as e:
        trained.save(tmp_path)  # a folder, not a file
    assert e.value.param == "path" and list(tmp_path.iterdir()) == []
    path = trained.save(tmp_path / "selector.txt")
    card = selector.card_path(path)
    saved = card.read_text()
    for text, rule in [("{not json", "model_card"), ('{"a": 1}', "model_card"), ("[]", "model_card")]:
        card.write_text(text)
        with pytest.raises(DataError) as e:
            selector.load(path)
        assert e.value.rule == rule, text
    card.unlink()
    with pytest.raises(DataError, match="card is missing"):
        selector.load(path)
    garbage = b"not a model at all\n"
    path.write_bytes(garbage)
    card.write_text(saved.replace(json.loads(saved)["model_sha256"], hashlib.sha256(garbage).hexdigest()))
    with pytest.raises(DataError) as e:
        selector.load(path)
    assert e.value.rule == "model_format"


def test_bad_arguments_are_named(week):
    with pytest.raises(InvalidArgumentError) as e:
        selector.train(week, n_estimators=0)
    assert e.value.param == "n_estimators"
    with pytest.raises(InvalidArgumentError) as e:
        selector.train(week, test_fraction=1.0)
    assert e.value.param == "test_fraction"


def test_a_folder_trains_as_its_concatenation_and_the_sample_is_bounded(tmp_path, week):
    folder = tmp_path / "published"
    folder.mkdir()
    labelled = dwcp_data.label_oracle(week)
    for i in range(8):
        labelled.slice(i * 5000, 5000).write_parquet(folder / f"part-{i:05d}.parquet")
    whole = selector.train(labelled, n_estimators=40)
    shards = selector.train(folder, n_estimators=40)
    assert shards.card["rows"] == whole.card["rows"] and shards.card["sample"]["rate"] == 1.0
    assert shards.card["regret_held_out"] == whole.card["regret_held_out"]
    assert_series_equal(shards.predict(week.head(500)), whole.predict(week.head(500)))
    sampled = selector.train(folder, n_estimators=40, sample_rows=6_000)
    sample = sampled.card["sample"]
    assert sample["rate"] == pytest.approx(6_000 / 32_000) and abs(sample["train"] - 6_000) <= 8
    assert abs(sample["held_out"] - 1_500) <= 8 and sample["shards"] == 8
    rows = sampled.card["rows"]  # the data's rows; the sample's apart
    assert (rows["train"], rows["held_out"], rows["trained_on"]) == (32_000, 8_000, sample["train"])
    again = selector.train(folder, n_estimators=40, sample_rows=6_000)
    assert again.card["regret_held_out"] == sampled.card["regret_held_out"], "seeded: the same sample"
    with pytest.raises(InvalidArgumentError) as e:
        selector.train(folder, sample_rows=0)
    assert e.value.param == "sample_rows"


def saved_with(path, model: str, card: dict) -> None:
    """``model`` written at ``path`` with ``card`` beside it, the digest matching."""
    path.write_text(model)
    card = {**card, "model_sha256": hashlib.sha256(model.encode()).hexdigest()}
    selector.card_path(path).write_text(json.dumps(card))


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda c: {**c, "columns": c["columns"][::-1]}, id="columns reordered"),
        pytest.param(
            lambda c: {**c, "columns": c["columns"][::-1], "feature_names": c["feature_names"][::-1]},
            id="columns and names reordered",
        ),
        pytest.param(lambda c: {k: v for k, v in c.items() if k != "columns"}, id="no columns"),
        pytest.param(lambda c: {**c, "classes": c["classes"][:2]}, id="fewer classes"),
        pytest.param(lambda c: {**c, "classes": [0, 0, 1]}, id="repeated classes"),
        pytest.param(lambda c: {**c, "classes": [0, 1, 7]}, id="no such engine"),
        pytest.param(lambda c: {**c, "columns": ["rtt_ms", "oracle_compression"]}, id="a label column"),
    ],
)
def test_a_card_that_does_not_describe_its_model_is_refused_at_load(tmp_path, trained, edit):
    path = trained.save(tmp_path / "selector.txt")
    card = json.loads(selector.card_path(path).read_text())
    saved_with(path, path.read_text(), edit(card))
    with pytest.raises(DataError) as e:
        selector.load(path)
    assert e.value.rule == "model_card", str(e.value)


def crafted(model: str, case: str) -> str:
    """``model`` edited as an attacker would, keeping it plausible."""
    header, _, rest = model.partition("\nTree=0\n")
    sizes = [int(v) for v in header.split("tree_sizes=")[1].split("\n")[0].split()]

    def with_header(key: str, value: str) -> str:
        lines = [f"{key}={value}" if line.startswith(f"{key}=") else line for line in header.split("\n")]
        return "\n".join(lines) + "\nTree=0\n" + rest

    if case == "huge tree_sizes":
        return with_header("tree_sizes", " ".join(str(s * 10**9) for s in sizes))
    if case == "huge num_tree_per_iteration":
        return with_header("num_tree_per_iteration", str(2**31 - 1))
    if case == "huge num_class":
        return with_header("num_class", str(2**31 - 1))
    if case == "cut after the first trees":
        return model[: model.index("\nTree=3\n") + 1] + model[model.index("end of trees") :]
    if case == "a child outside its tree":
        return model.replace("\nleft_child=", "\nleft_child=900000 ", 1).replace(
            f"tree_sizes={sizes[0]} ", f"tree_sizes={sizes[0] + 7} ", 1
        )
    if case == "a feature the model lacks":
        first = model.index("split_feature=") + len("split_feature=")
        return (
            model[:first]
            + "77"
            + model[first + 1 :].replace(f"tree_sizes={sizes[0]} ", f"tree_sizes={sizes[0] + 1} ", 1)
        )
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "huge tree_sizes",
        "huge num_tree_per_iteration",
        "huge num_class",
        "cut after the first trees",
        "a child outside its tree",
        "a feature the model lacks",
    ],
)
def test_a_crafted_model_with_a_matching_card_is_refused_before_lightgbm_reads_it(tmp_path, trained, case):
    path = trained.save(tmp_path / "selector.txt")
    card = json.loads(selector.card_path(path).read_text())
    saved_with(path, crafted(path.read_text(), case), card)
    with pytest.raises(DataError) as e:
        selector.load(path)
    assert e.value.rule in ("model_format", "model_card"), str(e.value)


def test_the_checks_pass_every_model_train_makes(tmp_path, week):
    two = week.filter(pl.col("current_compression") != "amst").head(4000)
    for data in (week.head(8000), two):
        model = selector.train(data, n_estimators=7)
        path = model.save(tmp_path / f"m{len(model.card['classes'])}.txt")
        assert_series_equal(selector.load(path).predict(week.head(50)), model.predict(week.head(50)))
