"""The ``dwcp-data`` command: generate, validate, clean, label, pipeline, report, export, ingest.

Exit codes: 0 success, 1 validation failed, 2 bad usage or bad input, 3 an
internal error (a bug in dwcp_data: please report it), 4 an output could not
be written (a full disk, a quota, a read-only file system).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from dwcp_data import _json
from dwcp_data._convert import iso_timestamp
from dwcp_data._outputs import check_output_file, output_folder, shard_name
from dwcp_data._progress import progress
from dwcp_data.cleaning import clean
from dwcp_data.datasets import clean_dataset, label_dataset, validate_dataset
from dwcp_data.drift import drift
from dwcp_data.errors import (
    DwcpDataError,
    InternalError,
    InvalidArgumentError,
    StorageError,
    ValidationError,
)
from dwcp_data.generator import generate_synthetic, iter_synthetic_shards
from dwcp_data.io import file_format, is_folder, read_training_data, write_frames, write_training_data
from dwcp_data.labelling import LABEL_COLUMN, label_oracle
from dwcp_data.options import ValidationOptions
from dwcp_data.pipeline import label_shares, report_path_for, run_pipeline
from dwcp_data.profiles import load_or_profile, profile
from dwcp_data.validation import validate

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_STORAGE = 4


def _iso_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 datetime: {text!r}") from exc


def _positive_int(text: str) -> int:
    """An argument that must be a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _emit(args: argparse.Namespace, summary: dict[str, Any], lines: list[str]) -> None:
    print(_json.dumps(summary) if args.json else "\n".join(lines))


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = enumerate(zip(row, widths, strict=True))
        return "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in cells)

    return [fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def _read(path: str, args: argparse.Namespace) -> pl.DataFrame:
    df = read_training_data(path, on_bad_rows=getattr(args, "on_bad_rows", "raise"))
    assert isinstance(df, pl.DataFrame)
    return df


def _cmd_generate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.shard_rows is None:
        df = generate_synthetic(args.rows, args.seed, end=args.end, freq=args.freq)
        outputs = [str(write_training_data(df, args.out, overwrite=args.overwrite))]
    else:
        shards = iter_synthetic_shards(
            args.rows, shard_rows=args.shard_rows, seed=args.seed, end=args.end, freq=args.freq
        )
        n_shards = -(-args.rows // args.shard_rows)
        outputs = []
        with output_folder(args.out, overwrite=args.overwrite, kind="synthetic") as build:
            for i, blocks in enumerate(
                progress(_sized(shards, n_shards), "generating", enabled=args.progress)
            ):
                name = shard_name(i, n_shards, f".{args.format}")
                _, build.rows[name] = write_frames(blocks, build.file(name))
                outputs.append(str(build.target / name))
            build.info["synthetic"] = {"rows": args.rows, "seed": args.seed, "freq": args.freq}
    seconds = round(time.perf_counter() - started, 3)
    summary = {"rows": args.rows, "files": outputs, "seconds": seconds}
    where = outputs[0] if len(outputs) == 1 else f"{len(outputs)} shards in {args.out}"
    _emit(args, summary, [f"wrote {args.rows:,} synthetic rows to {where} in {seconds} s"])
    return EXIT_OK


class _sized:
    """An iterator with a known length (for the progress bar)."""

    def __init__(self, items: Any, length: int) -> None:
        self.items, self.length = items, length

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return self.length


def _cmd_validate(args: argparse.Namespace) -> int:
    if Path(args.path).is_dir():  # shard by shard, bounded memory
        report = validate_dataset(
            args.path,
            profile=args.profile,
            min_rows=args.min_rows,
            on_bad_rows=args.on_bad_rows,
            show_progress=args.progress,
        )
    else:
        report = validate(_read(args.path, args), profile=args.profile, min_rows=args.min_rows)
    rows = [
        [
            r.rule,
            r.column or "",
            f"{r.observed:.6g}" if isinstance(r.observed, float) else str(r.observed),
            r.threshold,
            f"{r.failing_rows:,}",
        ]
        for r in report.failed_rules
    ]
    lines = [repr(report).splitlines()[0]]
    if rows:
        lines += _table(rows, ["failed rule", "column", "observed", "required", "failing rows"])
    _emit(args, report.to_dict(), lines)
    return EXIT_OK if report.passed else EXIT_INVALID


def _writing_options(args: argparse.Namespace) -> dict[str, Any]:
    """What ``_reading`` and ``_writing`` parsed, as the data-set stages take it."""
    return {"on_bad_rows": args.on_bad_rows, "overwrite": args.overwrite, "show_progress": args.progress}


def _cmd_clean(args: argparse.Namespace) -> int:
    if is_folder(args.out):
        report = clean_dataset(args.path, args.out, by=args.by, **_writing_options(args))
        lines = [repr(report), f"wrote {report.rows_out:,} rows to {args.out}/"]
        _emit(args, {"out": args.out, **report.to_dict()}, lines)
        return EXIT_OK
    check_output_file(args.out, [args.path])
    df, report = clean(_read(args.path, args), by=args.by, report=True)
    path = write_training_data(df, args.out)
    _emit(args, {"out": str(path), **report.to_dict()}, [repr(report), f"wrote {df.height:,} rows to {path}"])
    return EXIT_OK


def _cmd_label(args: argparse.Namespace) -> int:
    if is_folder(args.out):
        rows = label_dataset(args.path, args.out, cpu_weight=args.cpu_weight, **_writing_options(args))
        _emit(args, {"out": args.out, "rows": rows}, [f"wrote {rows:,} labelled rows to {args.out}/"])
        return EXIT_OK
    check_output_file(args.out, [args.path])
    df = label_oracle(_read(args.path, args), cpu_weight=args.cpu_weight)
    path = write_training_data(df, args.out)
    shares = label_shares(df, LABEL_COLUMN)
    lines = [
        f"wrote {df.height:,} labelled rows to {path}",
        *_table([[k, f"{v:.1%}"] for k, v in shares.items()], ["oracle_compression", "share"]),
    ]
    _emit(args, {"out": str(path), "rows": df.height, "label_shares": shares}, lines)
    return EXIT_OK


def _pipeline_source(source: str | None, engine: str) -> Any:
    """``--source``: files, or with the Ray engine also a URI (see ``dwcp_data.ray.source_of``)."""
    if engine == "ray" and source is not None:
        from dwcp_data.ray import source_of

        return source_of(source)
    return source


def _cmd_pipeline(args: argparse.Namespace) -> int:
    try:
        result = run_pipeline(
            _pipeline_source(args.source, args.engine),
            args.out,
            rows=args.rows,
            seed=args.seed,
            freq=args.freq,
            profile=args.profile,
            min_rows=args.min_rows,
            on_invalid="continue" if args.continue_on_invalid else "stop",
            on_bad_rows=args.on_bad_rows,
            by=args.by,
            cpu_weight=args.cpu_weight,
            show_progress=args.progress,
            engine=args.engine,
            overwrite=args.overwrite,
        )
    except ValidationError as exc:
        print(f"dwcp-data: {exc}", file=sys.stderr)
        if args.json:  # the run report, written before the run stopped
            print(report_path_for(args.out).read_text())
        return EXIT_INVALID
    r = result.report
    lines = [
        f"pipeline {r['status']}: {r['stages'][-1]['rows']:,} labelled rows in {result.dataset} "
        f"(report: {result.report_path}, {r['seconds']} s)"
    ]
    lines += _table(
        [[s["stage"], f"{s['rows']:,}", f"{s['seconds']:.3f}"] for s in r["stages"]],
        ["stage", "rows", "seconds"],
    )
    lines += _table([[k, f"{v:.1%}"] for k, v in r["label_shares"].items()], ["oracle_compression", "share"])
    _emit(args, r, lines)
    return EXIT_OK if result.passed else EXIT_INVALID


def _timestamp_text(df: pl.DataFrame, which: str) -> str | None:
    """The first (``"min"``) or last (``"max"``) timestamp of ``df`` in ISO 8601,
    taken as an integer (any year a Polars Datetime holds); ``None`` without one."""
    if not isinstance(df.schema.get("timestamp"), pl.Datetime):
        return None
    micros = getattr(df["timestamp"].dt.epoch("us"), which)()
    return None if micros is None else iso_timestamp(int(micros))


def _cmd_profile(args: argparse.Namespace) -> int:
    check_output_file(args.out, [args.path])  # before the read: never over the data
    by = None if args.no_groups else (args.by or "link_type")
    found = profile(args.path, by=by, engine=args.engine, show_progress=args.progress)
    path = found.save(args.out)
    summary = {"out": str(path), "rows": found.rows, "columns": len(found.columns), "groups": found.groups}
    _emit(args, summary, [f"{found!r} saved to {path}"])
    return EXIT_OK


def _cmd_drift(args: argparse.Namespace) -> int:
    if args.html:
        check_output_file(args.html, [args.current, args.reference], param="html")
    report = drift(load_or_profile(args.current), load_or_profile(args.reference))
    lines = [repr(report)]
    if args.html:
        lines.append(f"report page: {report.to_html(args.html)}")
    judged = [r for r in report.rows if r["drifted"]]
    lines += _table(
        [
            [r["column"], r["group"] or "(all)", r["statistic"], f"{r['value']:.4g}", f"{r['threshold']:.4g}"]
            for r in judged
        ],
        ["drifted column", "group", "statistic", "value", "threshold"],
    )
    _emit(args, report.to_dict(), lines)
    return EXIT_INVALID if report.drifted else EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    df = _read(args.path, args)
    numeric = [c for c, t in df.schema.items() if t.is_numeric()]
    stats: list[dict[str, Any]] = []
    if numeric:
        described = df.select(numeric).describe(percentiles=[0.5], interpolation="linear")
        table = described.transpose(include_header=True, header_name="column", column_names="statistic")
        stats = table.select(
            "column",
            pl.col("null_count").cast(pl.Int64).alias("nulls"),
            "mean",
            "min",
            pl.col("50%").alias("median"),
            "max",
        ).to_dicts()
    summary: dict[str, Any] = {
        "rows": df.height,
        "first_timestamp": _timestamp_text(df, "min"),
        "last_timestamp": _timestamp_text(df, "max"),
        "class_shares": label_shares(df, "current_compression"),
        "label_shares": label_shares(df, LABEL_COLUMN),
        "link_type_shares": label_shares(df, "link_type"),
        "columns": stats,
    }

    def fmt(v: float | int | None) -> str:
        return "" if v is None else f"{v:.6g}" if isinstance(v, float) else f"{v:,}"

    lines = [f"{df.height:,} rows, {summary['first_timestamp']} .. {summary['last_timestamp']}"]
    lines += _table(
        [[s["column"], *(fmt(s[k]) for k in ("nulls", "mean", "min", "median", "max"))] for s in stats],
        ["column", "nulls", "mean", "min", "median", "max"],
    )
    for key in ("class_shares", "label_shares", "link_type_shares"):
        if summary[key]:
            lines.append(
                f"{key.replace('_', ' ')}: " + ", ".join(f"{k} {v:.1%}" for k, v in summary[key].items())
            )
    _emit(args, summary, lines)
    return EXIT_OK


def _connection(args: argparse.Namespace) -> Any:
    """The InfluxDB connection: the flags given, else the environment the
    official clients read (``INFLUX_HOST``, ``INFLUX_TOKEN``, ...: see
    :meth:`dwcp_data.influx.Connection.from_env`), else bucket ``dwcp_metrics``."""
    from dwcp_data import influx

    given = {
        "url": args.influx_url,
        "database": args.database,
        "bucket": args.bucket,
        "org": args.org,
        "token": args.token,
        "username": args.username,
        "password": args.password,
        "verify": args.verify_tls,
        "ca_bundle": args.ca_bundle,
    }
    try:
        return influx.Connection.from_env(**given)
    except InvalidArgumentError as exc:
        if exc.param != "database":  # neither a database nor a bucket anywhere: the default bucket
            raise
    return influx.Connection.from_env(**{**given, "bucket": "dwcp_metrics"})


def _rows_in(path: Path) -> int:
    """Rows of a Parquet (from its footer) or CSV file just written."""
    parquet = file_format(path, "output") == "parquet"
    scan = pl.scan_parquet(path, glob=False) if parquet else pl.scan_csv(path, infer_schema=False, glob=False)
    return int(scan.select(pl.len()).collect().item())


def _cmd_export(args: argparse.Namespace) -> int:
    from dwcp_data import influx

    end = args.end or datetime.now(timezone.utc)
    try:
        start = args.start or end - timedelta(days=args.days)
    except OverflowError:
        raise InvalidArgumentError.of(
            "days", f"{args.days:,} days before {end.isoformat()} is not a date: give fewer --days"
        ) from None
    started = time.perf_counter()
    if is_folder(args.output):
        report = influx.export_to_folder(
            args.output,
            start=start,
            end=end,
            concurrency=args.concurrency or influx.EXPORT_CONCURRENCY,
            prune=args.prune,
            overwrite=args.overwrite,
            connection=_connection(args),
        )
        summary = {
            "output": str(report.folder),
            "files": [str(f) for f in report.files],
            "exported": list(report.exported),
            "reused": list(report.reused),
            "rows": report.rows,
            "start": start,
            "end": end,
            "seconds": round(report.seconds, 3),
        }
        line = (
            f"Exported {report.rows:,} records to {report.folder}/ ({len(report.files)} days: "
            f"{len(report.exported)} read from the server, {len(report.reused)} reused) in {summary['seconds']} s"
        )
        _emit(args, summary, [line])
        return EXIT_OK
    path = influx.export_to_file(
        args.output, start=start, end=end, chunk=args.chunk, connection=_connection(args)
    )
    rows = _rows_in(path)
    seconds = round(time.perf_counter() - started, 3)
    _emit(
        args,
        {"output": str(path), "rows": rows, "start": start, "end": end, "seconds": seconds},
        [f"Exported {rows:,} records to {path} in {seconds} s"],
    )
    return EXIT_OK


def _cmd_ingest(args: argparse.Namespace) -> int:
    from dwcp_data import influx

    tags = influx.TAGS if args.tags is None else [t for t in args.tags.split(",") if t]
    report = influx.write_metrics(
        _read(args.path, args),
        tags=tags,
        on_collision=args.on_collision,
        batch_size=args.batch_size,
        gzip=args.gzip,
        connection=_connection(args),
    )
    _emit(
        args,
        {
            "points": report.points,
            "skipped": report.skipped,
            "batches": report.batches,
            "seconds": round(report.seconds, 3),
        },
        [
            f"wrote {report.points:,} points in {report.batches} batches ({report.skipped} rows without fields) "
            f"in {report.seconds:.2f} s"
        ],
    )
    return EXIT_OK


def _command(sub: Any, name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
    """A subcommand ``name`` running ``func``, with ``--json``."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=func)
    return p


def _reading(p: argparse.ArgumentParser) -> None:
    """The data set a command reads, and what to do with bad CSV lines."""
    p.add_argument("path", help="a .csv/.parquet file, a folder of shards, or a glob")
    p.add_argument(
        "--on-bad-rows",
        choices=["raise", "quarantine"],
        default="raise",
        help="bad CSV lines: fail (default) or move them to <file>.rejects.csv",
    )


def _progress_flag(p: argparse.ArgumentParser) -> None:
    """``--progress``/``--no-progress``."""
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: when working shard by shard in a terminal)",
    )


def _data_out(p: argparse.ArgumentParser) -> None:
    """``--out``: a data file, or a folder written block by block."""
    p.add_argument(
        "--out", required=True, help="output file, or a folder: one shard per input block, in bounded memory"
    )


def _writing(p: argparse.ArgumentParser) -> None:
    """What every command that writes a data set takes: ``--overwrite`` and ``--progress``."""
    _overwrite_flag(p)
    _progress_flag(p)


def _overwrite_flag(p: argparse.ArgumentParser) -> None:
    """``--overwrite``."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder that holds files dwcp-data did not write (all of them are lost)",
    )


def _validation(p: argparse.ArgumentParser) -> None:
    """The validation options, with :class:`~dwcp_data.ValidationOptions`' defaults."""
    p.add_argument("--profile", choices=["document", "strict"], default=ValidationOptions.profile)
    p.add_argument("--min-rows", type=int, default=ValidationOptions.min_rows)


def _influx_options(p: argparse.ArgumentParser) -> None:
    """Where the InfluxDB server is and how to sign in: flags, else the
    environment (secrets belong there: ``ps`` shows a command line)."""
    settings = {
        "--influx-url": "e.g. http://127.0.0.1:8086 (default: $INFLUX_HOST)",
        "--database": "InfluxDB 1.x database, read with InfluxQL (else the 2.x API: --bucket; default: $INFLUX_DATABASE)",
        "--bucket": "2.x API bucket; on InfluxDB 1.8, db/rp or db (default: $INFLUX_BUCKET, else dwcp_metrics)",
        "--org": "InfluxDB 2.x organisation (default: $INFLUX_ORG)",
        "--token": "API token (1.x: username:password); better: $INFLUX_TOKEN, which ps does not show",
        "--username": "1.x user (default: $INFLUX_USERNAME)",
        "--password": "1.x password; better: $INFLUX_PASSWORD",
        "--ca-bundle": "PEM file (or folder) of the CA that signed an https server's certificate (default: the system's)",
    }
    for flag, help_text in settings.items():
        p.add_argument(flag, default=None, help=help_text)
    p.add_argument(
        "--verify-tls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="verify an https server's certificate (default, or $INFLUX_SKIP_VERIFY); --no-verify-tls for a test"
        " server only",
    )


def _add_generate(sub: Any) -> None:
    """``dwcp-data generate``."""
    gen = _command(sub, "generate", "generate synthetic training data (design document §6.1)", _cmd_generate)
    gen.add_argument("-n", "--rows", type=int, default=100_000, help="number of rows (default 100000)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument("--end", type=_iso_datetime, default=None, help="last timestamp, ISO 8601 (default now)")
    gen.add_argument("--freq", default="1h", help="step between rows, e.g. 1h, 15m (default 1h)")
    gen.add_argument("--out", required=True, help="output file (.parquet/.csv), or folder with --shard-rows")
    gen.add_argument(
        "--shard-rows",
        type=int,
        default=None,
        help="stream shards of this many rows into the --out folder (bounded memory)",
    )
    gen.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="shard format")
    _writing(gen)


def _add_cleaning_and_labelling(sub: Any) -> None:
    """``dwcp-data validate``, ``clean``, ``label`` and ``report``."""
    val = _command(
        sub, "validate", "check a data set against the validation rules (exit 1 if it fails)", _cmd_validate
    )
    _reading(val)
    _validation(val)
    _progress_flag(val)

    cl = _command(sub, "clean", "remove duplicates and outliers, impute medians", _cmd_clean)
    _reading(cl)
    _data_out(cl)
    cl.add_argument("--by", nargs="+", default=None, help="compute IQR fences per group of these columns")
    _writing(cl)

    lab = _command(sub, "label", "add the oracle's estimates and label", _cmd_label)
    _reading(lab)
    _data_out(lab)
    lab.add_argument("--cpu-weight", type=float, default=0.0)
    _writing(lab)

    rep = _command(sub, "report", "summary statistics and class/label shares of a data set", _cmd_report)
    _reading(rep)

    dri = _command(
        sub, "drift", "what changed from REFERENCE to CURRENT (exit 1 if a column drifted)", _cmd_drift
    )
    dri.add_argument("current", help="a saved profile, or a data set to profile")
    dri.add_argument("reference", help="a saved profile, or a data set to profile")
    dri.add_argument(
        "--html", default=None, help="also write the report as one self-contained HTML page here"
    )

    prof = _command(
        sub, "profile", "a data set's profile, saved to --out (per column, per group)", _cmd_profile
    )
    prof.add_argument("path", help="a .csv/.parquet file, a folder of shards, or a glob")
    prof.add_argument("--out", required=True, help="the profile file to write (gzip-compressed JSON)")
    prof.add_argument("--by", nargs="+", default=None, help="group columns (default: link_type)")
    prof.add_argument("--no-groups", action="store_true", help="profile every row only, no groups")
    prof.add_argument("--engine", choices=["local", "ray"], default="local", help="where the blocks are read")
    _progress_flag(prof)


def _add_pipeline(sub: Any) -> None:
    """``dwcp-data pipeline``."""
    pipe = _command(
        sub, "pipeline", "load, validate, clean, label, validate and write a training set", _cmd_pipeline
    )
    pipe.add_argument("--source", default=None, help="files to read (default: synthetic data)")
    pipe.add_argument("--on-bad-rows", choices=["raise", "quarantine"], default="raise")
    pipe.add_argument("-n", "--rows", type=int, default=100_000, help="synthetic rows (default 100000)")
    pipe.add_argument("--seed", type=int, default=42)
    pipe.add_argument("--freq", default="1h", help="step between synthetic rows, e.g. 1h, 1m (default 1h)")
    pipe.add_argument(
        "--out",
        default="data/training.parquet",
        help="data set to write (default %(default)s); a folder: shard by shard from --source files",
    )
    _validation(pipe)
    pipe.add_argument("--by", nargs="+", default=None, help="compute IQR fences per group of these columns")
    pipe.add_argument("--cpu-weight", type=float, default=0.0)
    pipe.add_argument("--continue-on-invalid", action="store_true", help="record validation failures, go on")
    pipe.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="'ray': a task per shard on the Ray cluster of RAY_ADDRESS (else a local one); needs a folder"
        " --out and a --source of files, or a URI Ray Data reads (s3://..., gs://...)",
    )
    _writing(pipe)


def _add_influx(sub: Any) -> None:
    """``dwcp-data export`` and ``ingest``."""
    exp = _command(
        sub, "export", "export compression metrics from InfluxDB into the training schema", _cmd_export
    )
    _influx_options(exp)
    exp.add_argument("--days", type=_positive_int, default=30, help="how far back from --end (default 30)")
    exp.add_argument(
        "--start", type=_iso_datetime, default=None, help="first time, ISO 8601 (default end - days)"
    )
    exp.add_argument("--end", type=_iso_datetime, default=None, help="end time, ISO 8601 (default now)")
    exp.add_argument(
        "--chunk",
        default=None,
        help="fixed window per query, e.g. 6h (default: windows sized from the server's point counts)",
    )
    exp.add_argument(
        "--output",
        required=True,
        help="file to write (.parquet or .csv), or a folder: one shard per UTC day, days already"
        " exported with the server's current count reused",
    )
    exp.add_argument(
        "--concurrency",
        type=_positive_int,
        default=None,
        help="days exported at once into a folder (default: measured, see EXPORT_CONCURRENCY)",
    )
    exp.add_argument("--prune", action="store_true", help="remove the folder's day shards outside the range")
    _overwrite_flag(exp)

    ing = _command(sub, "ingest", "write a data set to InfluxDB as line protocol", _cmd_ingest)
    _reading(ing)
    _influx_options(ing)
    ing.add_argument("--batch-size", type=int, default=5000)
    ing.add_argument(
        "--tags",
        default=None,
        help="comma-separated columns written as tags (default: the collector's region,az,link_type,"
        "data_type,current_compression); other text columns become string fields",
    )
    ing.add_argument(
        "--on-collision",
        choices=["raise", "spread"],
        default="raise",
        help="rows sharing tags and time: fail before sending (default) or move them apart by nanoseconds",
    )
    ing.add_argument(
        "--gzip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="gzip each batch (default: unless the server is on this machine)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dwcp-data``."""
    parser = argparse.ArgumentParser(prog="dwcp-data", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    _add_cleaning_and_labelling(sub)
    _add_pipeline(sub)
    _add_influx(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (DwcpDataError, OSError) as exc:
        kind = "internal error" if isinstance(exc, InternalError) else "error"
        print(f"dwcp-data: {kind}: {exc}", file=sys.stderr)
        if isinstance(exc, InternalError):
            return EXIT_INTERNAL
        return EXIT_STORAGE if isinstance(exc, StorageError) else EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
