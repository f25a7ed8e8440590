"""The reference selector: trained on the oracle's labels, judged by regret on the newest rows."""

from __future__ import annotations

import json

import polars as pl
import pytest
from polars.testing import assert_series_equal

import dwcp_data
from dwcp_data import selector
from dwcp_data.errors import InvalidArgumentError

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
    path = trained.save(tmp_path / "staging" / "selector.pkl")
    assert sorted(p.name for p in path.parent.iterdir()) == ["selector.pkl", "selector.pkl.card.json"]
    assert json.loads(selector.card_path(path).read_text()) == json.loads(json.dumps(trained.card))
    loaded = selector.load(path)
    assert_series_equal(loaded.predict(week.head(300)), trained.predict(week.head(300)))


def test_bad_arguments_are_named(week):
    with pytest.raises(InvalidArgumentError) as e:
        selector.train(week, n_estimators=0)
    assert e.value.param == "n_estimators"
    with pytest.raises(InvalidArgumentError) as e:
        selector.train(week, test_fraction=1.0)
    assert e.value.param == "test_fraction"
