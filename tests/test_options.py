"""Options defined once: their defaults, their checks, and every entry point taking both from them."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing
from datetime import datetime, timedelta, timezone

import pytest

import dwcp_data
from dwcp_data import dataset, pipeline
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.influx import RetryPolicy
from dwcp_data.options import CleaningOptions, ValidationOptions

ENTRY_POINTS = {
    ValidationOptions: [dwcp_data.validate, dataset.validate_dataset, pipeline.run_pipeline],
    CleaningOptions: [dwcp_data.clean, dataset.clean_dataset],
}


#: A function's overloads (Python 3.11 keeps them; none on 3.10).
OVERLOADS = getattr(typing, "get_overloads", lambda function: [])
#: The entry points whose keywords are every option: each spells them as the options class does.
EVERY_OPTION = {
    ValidationOptions: [dwcp_data.validate, dataset.validate_dataset],
    CleaningOptions: [dwcp_data.clean, *OVERLOADS(dwcp_data.clean), dataset.clean_dataset],
}


@pytest.mark.parametrize("options", [ValidationOptions, CleaningOptions])
def test_entry_points_spell_every_option_as_its_class_does(options):
    """The keyword signatures are written out for help() and notebooks' signature
    help; this keeps each copy to the one definition: name, type, default."""
    fields = dataclasses.fields(options)
    assert len(EVERY_OPTION[options]) >= 2
    for function in EVERY_OPTION[options]:
        parameters = inspect.signature(function).parameters
        for field in fields:
            parameter = parameters[field.name]
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (function, field.name)
            assert parameter.annotation == field.type, (function, field.name)
            if parameter.default is not Ellipsis:  # an overload's `= ...`
                assert parameter.default == field.default, (function, field.name)


@pytest.mark.parametrize("options", [ValidationOptions, CleaningOptions])
def test_every_entry_point_takes_its_defaults_from_the_options(options):
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    for function in ENTRY_POINTS[options]:
        for name, parameter in inspect.signature(function).parameters.items():
            if name in defaults:
                assert parameter.default == defaults[name], (function.__qualname__, name)


def test_every_data_set_stage_takes_an_engine_name_or_object(tmp_path):
    """``engine=`` on every stage: a name or an engine object (the old
    ``dwcp_data.ray`` wrappers are gone); anything else is refused by name."""
    from dwcp_data import quality

    stages = [dataset.validate_dataset, dataset.clean_dataset, dataset.label_dataset, pipeline.run_pipeline]
    for stage in [*stages, quality.quality_metrics]:
        assert inspect.signature(stage).parameters["engine"].default == "local", stage.__qualname__
    folder = tmp_path / "in"
    dwcp_data.write_training_data(dwcp_data.generate_synthetic(2000, seed=1), folder, shard_rows=700)
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    expected = dwcp_data.validate_dataset(folder, min_rows=10, now=now).results
    assert (
        dwcp_data.validate_dataset(folder, min_rows=10, now=now, engine=dwcp_data.LocalEngine()).results
        == expected
    )
    for bad in ["spark", None, dwcp_data.LocalEngine, 1]:
        with pytest.raises(InvalidArgumentError, match="`engine`: must be 'local', 'ray', LocalEngine"):
            dwcp_data.validate_dataset(folder, engine=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="`num_cpus`"):
        dwcp_data.RayEngine(num_cpus=0)
    with pytest.raises(InvalidArgumentError, match="`address`"):
        dwcp_data.RayEngine(address=6379)  # type: ignore[arg-type]
    engine = dwcp_data.RayEngine(address="auto", runtime_env={"env_vars": {"TOKEN": "s3cr3t"}})
    assert "s3cr3t" not in repr(engine) and "auto" in repr(engine)
    assert engine.init_arguments() == {"address": "auto", "runtime_env": {"env_vars": {"TOKEN": "s3cr3t"}}}


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"profile": "lenient"}, "profile"),
        ({"profile": None}, "profile"),
        ({"min_rows": -1}, "min_rows"),
        ({"min_rows": True}, "min_rows"),
        ({"min_rows": 2.5}, "min_rows"),
        ({"max_missing_fraction": 1.5}, "max_missing_fraction"),
        ({"max_missing_fraction": "0.1"}, "max_missing_fraction"),
        ({"min_class_share": float("nan")}, "min_class_share"),
        ({"now": "yesterday"}, "now"),
        # a moment in the year 10000 once in UTC
        ({"now": datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=14)))}, "now"),
        ({"max_examples": -1}, "max_examples"),
    ],
)
def test_validation_options_are_checked_when_made(kwargs, param):
    with pytest.raises(InvalidArgumentError) as info:
        ValidationOptions(**kwargs)
    assert info.value.param == param and f"`{param}`" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"dedupe": 1}, "dedupe"),
        ({"outlier_columns": [1]}, "outlier_columns"),
        ({"outlier_columns": b"rtt_ms"}, "outlier_columns"),
        ({"outlier_columns": ["rtt_ms", "rtt_ms"]}, "outlier_columns"),
        ({"iqr_k": -0.5}, "iqr_k"),
        ({"iqr_k": float("inf")}, "iqr_k"),
        ({"iqr_k": "1.5"}, "iqr_k"),
        ({"by": []}, "by"),
        ({"by": ["region", "region"]}, "by"),
        ({"impute": "mean"}, "impute"),
        ({"impute": "None"}, "impute"),  # the text, as a config file or an Airflow param says it
        ({"impute": "none"}, "impute"),
    ],
)
def test_cleaning_options_are_checked_when_made(kwargs, param):
    with pytest.raises(InvalidArgumentError) as info:
        CleaningOptions(**kwargs)
    assert info.value.param == param


def test_options_are_normalised_and_pickle():
    options = CleaningOptions(outlier_columns="rtt_ms", by=["link_type", "region"], iqr_k=3)
    assert options.outlier_columns == ("rtt_ms",) and options.by == ("link_type", "region")
    assert pickle.loads(pickle.dumps(options)) == options
    naive = ValidationOptions(now=datetime(2026, 1, 1))
    assert naive.now == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert naive.resolved() is naive
    fixed = ValidationOptions().resolved()
    assert fixed.now is not None and fixed.resolved() == fixed
    assert fixed.now_us == int(fixed.now.timestamp()) * 1_000_000


def test_a_report_keeps_the_options_it_was_made_with():
    df = dwcp_data.generate_synthetic(50, seed=1)
    report = dwcp_data.validate(df, profile="strict", min_rows=10, max_examples=2)
    assert report.options.profile == report.profile == "strict"
    assert (report.options.min_rows, report.options.max_examples) == (10, 2)
    assert report.options.now is not None


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"retries": -1}, "retries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 1e10}, "timeout"),
        ({"max_wait": float("inf")}, "max_wait"),
    ],
)
def test_a_retry_policy_is_checked(kwargs, param):
    with pytest.raises(InvalidArgumentError) as info:
        RetryPolicy(**kwargs)
    assert info.value.param == param


def test_a_retry_policy_waits_grow_to_their_cap():
    policy = RetryPolicy(first_wait=0.5, max_wait=3.0)
    for waits, base in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (10, 3.0)]:
        for _ in range(20):
            assert base <= policy.backoff(waits) <= 2 * base
    conn = dwcp_data.influx.Connection("http://127.0.0.1:1", database="d", retries=2, timeout=5.0)
    assert conn.retry_policy == RetryPolicy(retries=2, timeout=5.0)
    with pytest.raises(InvalidArgumentError) as info:
        dwcp_data.influx.Connection("http://127.0.0.1:1", database="d", retries=-1)
    assert info.value.param == "retries"


def test_the_influx_keyword_connection_forms_spell_the_connection_as_its_class_does():
    """export_metrics, export_to_folder and write_metrics take ``connection=`` or
    the same settings as keywords: each keyword as ``influx.Connection`` types
    and defaults it (``url`` optional there: ``connection=`` may stand in)."""
    fields = {f.name: f for f in dataclasses.fields(dwcp_data.influx.Connection)}
    functions = [
        dwcp_data.influx.export_metrics,
        dwcp_data.influx.export_to_folder,
        dwcp_data.influx.write_metrics,
    ]
    for function in functions:
        parameters = inspect.signature(function).parameters
        keywords = [name for name in fields if name in parameters]
        assert {"url", "token", "verify", "ca_bundle", "timeout", "retries"} <= set(keywords), function
        assert parameters["url"].annotation == "str | None" and parameters["url"].default is None
        for name in keywords:
            if name == "url":
                continue
            assert parameters[name].annotation == fields[name].type, (function, name)
            assert parameters[name].default == fields[name].default, (function, name)
