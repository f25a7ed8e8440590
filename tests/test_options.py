"""Options defined once: their defaults, their checks, and every entry point taking both from them."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing
from datetime import datetime, timedelta, timezone
from typing import Literal

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
#: The entry points whose keywords are every option: each shows them as the options class has them.
EVERY_OPTION = {
    ValidationOptions: [dwcp_data.validate, dataset.validate_dataset],
    CleaningOptions: [dwcp_data.clean, dataset.clean_dataset],
}


@pytest.mark.parametrize("options", [ValidationOptions, CleaningOptions])
def test_entry_points_show_every_option_as_its_class_has_it(options):
    """The options are typed once for type checkers (``**options: Unpack[...]``)
    and shown to help() and notebooks' signature help as the keyword-only
    parameters they are: name, type and default of the options class."""
    fields = dataclasses.fields(options)
    for function in EVERY_OPTION[options]:
        parameters = inspect.signature(function).parameters
        assert not [p for p in parameters.values() if p.kind is p.VAR_KEYWORD], function
        for field in fields:
            parameter = parameters[field.name]
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (function, field.name)
            assert parameter.annotation == field.type, (function, field.name)
            assert parameter.default == field.default, (function, field.name)
    for overload in OVERLOADS(dwcp_data.clean):  # the type checkers' view of `clean`
        (var_keyword,) = [
            p for p in inspect.signature(overload).parameters.values() if p.kind is p.VAR_KEYWORD
        ]
        assert var_keyword.annotation == "Unpack[CleaningKeywords]"


def test_jupyter_shows_and_completes_the_keywords():
    """What a notebook user sees: IPython's inspector (Shift-Tab, ``?``) shows
    each keyword with its default, and its completer offers the keywords."""
    from IPython.core.completer import provisionalcompleter
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("import dwcp_data; from dwcp_data import influx")
        definition = shell.object_inspect("dwcp_data.clean")["definition"]
        assert "iqr_k: 'float' = 1.5" in definition and "impute:" in definition
        assert "token: 'str | None' = None" in shell.object_inspect("influx.write_metrics")["definition"]
        lines = {
            "dwcp_data.clean(df, iq": "iqr_k=",
            "dwcp_data.validate(df, max_ex": "max_examples=",
            "dwcp_data.clean_dataset('a', 'b', eng": "engine=",
            "dwcp_data.read_training_data('a', keep": "keep_unknown_columns=",
            "influx.export_metrics(ca_b": "ca_bundle=",
        }
        for line, keyword in lines.items():
            with provisionalcompleter():
                offered = [c.text for c in shell.Completer.completions(line, len(line))]
            assert keyword in offered, (line, offered)
    finally:
        InteractiveShell.clear_instance()


def test_a_keyword_that_is_no_option_is_refused_by_the_functions_name(tmp_path):
    df = dwcp_data.generate_synthetic(50, seed=1)
    calls = [
        (dwcp_data.clean, (df,), "clean"),
        (dwcp_data.validate, (df,), "validate"),
        (dwcp_data.clean_dataset, (tmp_path / "in", tmp_path / "out"), "clean_dataset"),
        (dwcp_data.influx.write_metrics, (df,), "write_metrics"),
    ]
    for function, args, name in calls:
        with pytest.raises(TypeError, match=rf"^{name}\(\) got an unexpected keyword argument 'iqr_kk'$"):
            function(*args, iqr_kk=2)  # type: ignore[call-overload,call-arg]
    assert not (tmp_path / "out").exists()


def test_keywords_typed_otherwise_than_their_class_fail_at_import():
    """The TypedDict type checkers read and the dataclass that holds the
    defaults name and type the same fields, or the module does not import."""
    from dwcp_data._keywords import Unpack, spelled_out
    from dwcp_data.options import CleaningKeywords

    class Misspelt(typing.TypedDict, total=False):
        dedupe: bool
        outlier_columns: str
        iqr_k: float
        by: str | None
        impute: Literal["median"] | None

    def clean_like(df: object, **options: Unpack[CleaningKeywords]) -> None:
        """A stand-in for an entry point."""

    with pytest.raises(
        TypeError, match=r"Misspelt does not spell its fields as declared: \['by', 'outlier_columns'\]"
    ):
        spelled_out(Misspelt, CleaningOptions)(clean_like)
    with pytest.raises(TypeError, match=r"declared: \['max_examples', .*'profile'\]$"):
        spelled_out(CleaningKeywords, CleaningOptions, ValidationOptions)(clean_like)
    assert (
        "dedupe" in inspect.signature(spelled_out(CleaningKeywords, CleaningOptions)(clean_like)).parameters
    )


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


def test_the_influx_keyword_connection_forms_show_the_connection_as_its_class_has_it():
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
        assert set(fields) <= set(parameters), function
        assert parameters["url"].annotation == "str | None" and parameters["url"].default is None
        for name in set(fields) - {"url"}:
            assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, (function, name)
            assert parameters[name].annotation == fields[name].type, (function, name)
            assert parameters[name].default == fields[name].default, (function, name)
