"""read_training_data / write_training_data: formats, shards, schema enforcement, bad lines, atomicity."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import warnings

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import dwcp_data
from dwcp_data.errors import CsvError, DataError, InvalidArgumentError

from helpers import END


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return dwcp_data.label_oracle(dwcp_data.generate_synthetic(5_000, seed=21, end=END))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip(tmp_path, frame, suffix):
    path = dwcp_data.write_training_data(frame, tmp_path / f"data{suffix}")
    assert_frame_equal(dwcp_data.read_training_data(path), frame)


def test_csv_header_is_the_document_order(tmp_path, frame):
    shuffled = frame.select(reversed(frame.columns))
    path = dwcp_data.write_training_data(shuffled, tmp_path / "d.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert header[:33] == dwcp_data.SCHEMA.names() and header[33:] == dwcp_data.LABEL_SCHEMA.names()


def test_parquet_is_zstd_with_statistics(tmp_path, frame):
    import pyarrow.parquet as pq

    path = dwcp_data.write_training_data(frame, tmp_path / "d.parquet")
    column = pq.ParquetFile(path).metadata.row_group(0).column(10)
    assert column.compression == "ZSTD" and column.statistics is not None


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_streamed_frames_are_written_in_order(tmp_path, frame, suffix):
    import pyarrow.parquet as pq

    parts = [frame.slice(0, 1500), frame.slice(1500, 0), frame.slice(1500, 3500)]
    path, rows = dwcp_data.write_frames(iter(parts), tmp_path / f"d{suffix}")
    assert rows == frame.height
    assert_frame_equal(dwcp_data.read_training_data(path), frame)
    if suffix == ".parquet":
        column = pq.ParquetFile(path).metadata.row_group(0).column(10)
        assert column.compression == "ZSTD" and column.statistics is not None


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_no_frames_write_the_given_columns(tmp_path, frame, suffix):
    path, rows = dwcp_data.write_frames([], tmp_path / f"d{suffix}", schema=frame.schema)
    assert rows == 0
    assert_frame_equal(dwcp_data.read_training_data(path), frame.clear())
    with pytest.raises(InvalidArgumentError) as e:
        dwcp_data.write_frames([], tmp_path / f"e{suffix}")
    assert e.value.param == "schema" and not (tmp_path / f"e{suffix}").exists()


def test_frames_that_disagree_or_fail_leave_the_target_alone(tmp_path, frame):
    target = dwcp_data.write_training_data(frame.head(10), tmp_path / "d.parquet")
    mixed = [frame.head(5), frame.head(5).with_columns(pl.col("rtt_ms").cast(pl.String))]
    with pytest.raises(InvalidArgumentError, match="frame 1 has the columns") as e:
        dwcp_data.write_frames(mixed, target)
    assert e.value.param == "frames"

    def failing():
        yield frame.head(5)
        raise DataError("bad shard", column="rtt_ms", row=7, rule="r")

    with pytest.raises(DataError, match="bad shard"):
        dwcp_data.write_frames(failing(), target)
    assert_frame_equal(dwcp_data.read_training_data(target), frame.head(10))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet"]


def test_folders_globs_and_lists_of_shards(tmp_path, frame):
    parts = [frame.slice(0, 2000), frame.slice(2000, 2000), frame.slice(4000, 1000)]
    dwcp_data.write_training_data(parts[0], tmp_path / "shards" / "part-0.parquet")
    dwcp_data.write_training_data(parts[1], tmp_path / "shards" / "part-1.csv")
    dwcp_data.write_training_data(parts[2], tmp_path / "shards" / "part-2.parquet")
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "shards"), frame)
    assert dwcp_data.read_training_data(str(tmp_path / "shards" / "*.parquet")).height == 3000
    both = dwcp_data.read_training_data(
        [tmp_path / "shards" / "part-0.parquet", tmp_path / "shards" / "part-1.csv"]
    )
    assert both.height == 4000


def test_schema_is_enforced(tmp_path, frame):
    loose = frame.with_columns(
        pl.col("link_type").cast(pl.String), pl.col("rtt_ms").cast(pl.Float32), pl.lit("x").alias("extra")
    ).select(["extra", *reversed(frame.columns)])
    loose.write_parquet(tmp_path / "loose.parquet")
    df = dwcp_data.read_training_data(tmp_path / "loose.parquet")
    assert df.schema == pl.Schema([*dwcp_data.SCHEMA.items(), *dwcp_data.LABEL_SCHEMA.items()])
    kept = dwcp_data.read_training_data(tmp_path / "loose.parquet", keep_unknown_columns=True)
    assert kept.columns[-1] == "extra"
    # A column the file lacks is read as nulls, with a warning and in the report.
    short = frame.drop("rtt_ms", "node_id")
    short.write_parquet(tmp_path / "short.parquet")
    short.drop(*dwcp_data.LABEL_SCHEMA.names()).write_csv(tmp_path / "short.csv")
    for name in ("short.parquet", "short.csv"):
        with pytest.warns(UserWarning, match=r"absent, read as nulls: node_id, rtt_ms"):
            df, report = dwcp_data.read_training_data(tmp_path / name, report=True)
        assert report.absent_columns == {str(tmp_path / name): ("node_id", "rtt_ms")}
        assert df.columns[: len(dwcp_data.SCHEMA)] == dwcp_data.SCHEMA.names()
        assert df["rtt_ms"].null_count() == df["node_id"].null_count() == df.height == frame.height
        assert df.schema["rtt_ms"] == pl.Float64 and df.schema["node_id"] == pl.String


def test_columns_of_the_null_type_are_read_as_nulls_of_their_schema_type(tmp_path, frame):
    # what pyarrow (and Ray Data's pandas blocks) make of a column without a single value
    untyped = frame.with_columns(
        pl.lit(None).alias(c) for c in ("timestamp", "rtt_ms", "node_id", "link_type")
    )
    assert untyped.schema["timestamp"] == pl.Null
    untyped.write_parquet(tmp_path / "untyped.parquet")
    df = dwcp_data.read_training_data(tmp_path / "untyped.parquet")
    assert df.schema == pl.Schema([*dwcp_data.SCHEMA.items(), *dwcp_data.LABEL_SCHEMA.items()])
    for c in ("timestamp", "rtt_ms", "node_id", "link_type"):
        assert df[c].null_count() == frame.height
    assert_frame_equal(
        df.drop("timestamp", "rtt_ms", "node_id", "link_type"),
        frame.drop("timestamp", "rtt_ms", "node_id", "link_type"),
    )


def test_iso_timestamps_with_offsets_are_read_as_utc(tmp_path, frame):
    df = frame.head(3).with_columns(pl.Series("timestamp", ["2025-11-14T13:34:56+01:00"] * 3))
    df.write_csv(tmp_path / "t.csv")
    assert dwcp_data.read_training_data(tmp_path / "t.csv")["timestamp"].to_list() == [END] * 3


def broken_csv(tmp_path, frame):
    path = dwcp_data.write_training_data(frame.head(50), tmp_path / "broken.csv")
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = (
        lines[5]
        .replace(",dc,", ",satellite,", 1)
        .replace(",metro,", ",satellite,", 1)
        .replace(",wan,", ",satellite,", 1)
    )
    lines[9] = "1,2,3\n"
    path.write_text("".join(lines))
    return path, lines


def test_a_broken_line_is_named(tmp_path, frame):
    path, _ = broken_csv(tmp_path, frame)
    with pytest.raises(CsvError) as info:
        dwcp_data.read_training_data(path)
    err = info.value
    assert (err.line, err.column, err.path) == (6, "link_type", str(path))
    assert "line 6" in str(err) and "satellite" in str(err) and "1 more bad line" in str(err)


def test_quarantine_keeps_bad_lines_verbatim(tmp_path, frame):
    path, lines = broken_csv(tmp_path, frame)
    with pytest.warns(UserWarning, match="2 bad line"):
        df, report = dwcp_data.read_training_data(path, on_bad_rows="quarantine", report=True)
    assert df.height == 48
    rejects = tmp_path / "broken.csv.rejects.csv"
    assert rejects.read_text() == lines[0] + lines[5] + lines[9]
    assert report.rejected == {str(path): 2} and report.rejects_files == (str(rejects),)
    expected = frame.head(50).filter(~pl.int_range(pl.len()).is_in([4, 8]))
    assert_frame_equal(df, expected)


def test_bad_sources(tmp_path):
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        dwcp_data.read_training_data(tmp_path / "nope.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match=r"no \.csv or \.parquet"):
        dwcp_data.read_training_data(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(InvalidArgumentError, match="format"):
        dwcp_data.read_training_data(tmp_path / "x.txt")
    with pytest.raises(InvalidArgumentError):
        dwcp_data.read_training_data(tmp_path, on_bad_rows="skip")


@pytest.mark.slow
def test_an_interrupted_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "big.csv"
    code = (
        "import dwcp_data, sys\n"
        "df = dwcp_data.generate_synthetic(3_000_000, seed=1)\n"
        "print('ready', flush=True)\n"
        f"dwcp_data.write_training_data(df, {str(target)!r})\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".big.csv.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # well inside a write of ~1 GB
        proc.send_signal(signal.SIGKILL)
    assert list(tmp_path.glob(".big.csv.*.tmp")), "the write had started"
    assert not target.exists()
    # The next write to the same file removes what the killed one left behind.
    dwcp_data.write_training_data(dwcp_data.generate_synthetic(10, end=END), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


def test_unreadable_parquet_names_the_file(tmp_path, frame):
    good = dwcp_data.write_training_data(frame, tmp_path / "shards" / "part-0.parquet")
    truncated = tmp_path / "shards" / "part-1.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "empty.parquet").write_bytes(b"")
    for source, bad in [
        (tmp_path / "shards", truncated),
        (tmp_path / "empty.parquet", tmp_path / "empty.parquet"),
    ]:
        with pytest.raises(DataError) as info:
            dwcp_data.read_training_data(source)
        assert str(bad) in str(info.value) and info.value.rule == "parquet"
        proc = subprocess.run(
            [shutil.which("dwcp-data"), "validate", str(source)], capture_output=True, text=True
        )
        assert proc.returncode == 2 and str(bad) in proc.stderr and "Traceback" not in proc.stderr


def test_blank_lines_are_no_rows(tmp_path, frame):
    path = dwcp_data.write_training_data(frame.head(200), tmp_path / "d.csv")
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    path.write_text(lines[0] + "\n" + "".join(lines[1:100]) + "\r\n\n" + "".join(lines[100:]) + "\n\n")
    df = dwcp_data.read_training_data(path)
    assert_frame_equal(df, frame.head(200))


def test_an_unclosed_quote_rejects_its_line_only(tmp_path, frame):
    path = dwcp_data.write_training_data(frame.head(200), tmp_path / "d.csv")
    lines = path.read_text().splitlines(keepends=True)
    lines[6] = lines[6].replace(",", ',"', 1)  # line 7: a quote that never closes
    path.write_text("".join(lines))
    with pytest.warns(UserWarning, match="1 bad line"):
        df, report = dwcp_data.read_training_data(path, on_bad_rows="quarantine", report=True)
    rejects = (tmp_path / "d.csv.rejects.csv").read_text().splitlines(keepends=True)
    assert rejects == [lines[0], lines[6]]
    assert df.height + report.rejected[str(path)] == len(lines) - 1  # good rows + rejected = data lines
    assert_frame_equal(df, frame.head(200).filter(pl.int_range(pl.len()) != 5))


def test_rejects_are_never_read_back_nor_shared(tmp_path, frame):
    for folder in ("a", "b"):
        path = dwcp_data.write_training_data(frame.head(20), tmp_path / folder / "part.csv")
        lines = path.read_text().splitlines(keepends=True)
        lines[3] = "oops\n"
        path.write_text("".join(lines))
    with pytest.warns(UserWarning):
        first = dwcp_data.read_training_data(tmp_path / "a", on_bad_rows="quarantine")
    with pytest.warns(UserWarning):
        again, report = dwcp_data.read_training_data(tmp_path / "a", on_bad_rows="quarantine", report=True)
    assert report.files == (str(tmp_path / "a" / "part.csv"),) and first.height == again.height == 19
    rejects = tmp_path / "rejects"
    with pytest.warns(UserWarning):
        dwcp_data.read_training_data(
            [tmp_path / "a" / "part.csv", tmp_path / "b" / "part.csv"],
            on_bad_rows="quarantine",
            rejects_dir=rejects,
        )
    assert len(list(rejects.glob("part.csv.*.rejects.csv"))) == 2


def test_written_files_respect_the_umask_and_keep_their_mode(tmp_path, frame):
    old = os.umask(0o022)
    try:
        path = dwcp_data.write_training_data(frame.head(5), tmp_path / "d.parquet")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o640)
        dwcp_data.write_training_data(frame.head(6), path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_stale_temporaries_of_dead_processes_only_are_removed(tmp_path, frame):
    host = socket.gethostname().split(".")[0]
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with open("/proc/self/stat", "rb") as f:
        started = int(f.read().rpartition(b")")[2].split()[19])
    stale = tmp_path / f".d.csv.{host}.{int(dead.stdout)}-7.abc0.tmp"
    live = tmp_path / f".d.csv.{host}.{os.getpid()}-{started}.def0.tmp"
    other = tmp_path / f".e.csv.{host}.{int(dead.stdout)}-7.abc0.tmp"
    for p in (stale, live, other):
        p.write_text("partial")
    dwcp_data.write_training_data(frame.head(5), tmp_path / "d.csv")
    assert not stale.exists() and live.exists() and other.exists()


def test_other_frame_types_are_written(tmp_path, frame):
    pandas_df = frame.head(5).to_pandas()
    path = dwcp_data.write_training_data(pandas_df, tmp_path / "p.parquet")
    assert_frame_equal(dwcp_data.read_training_data(path), frame.head(5))
    path = dwcp_data.write_training_data(frame.head(5).to_arrow(), tmp_path / "a.csv")
    assert_frame_equal(dwcp_data.read_training_data(path), frame.head(5))


def test_an_empty_csv_names_its_path(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=str(tmp_path / "empty.csv")):
        dwcp_data.read_training_data(tmp_path / "empty.csv")


_MUTATIONS = ["oops\n", "\n", "blank-crlf", "unclosed-quote", "extra-field", "missing-field", "satellite"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 29), st.sampled_from(_MUTATIONS)), max_size=8))
def test_good_rows_and_rejected_lines_are_the_data_lines(tmp_path_factory, frame, mutations):
    lines = frame.head(30).write_csv(datetime_format="%Y-%m-%dT%H:%M:%S%.6fZ").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    for index, kind in dict(mutations).items():  # one mutation per line
        line = body[index]
        body[index] = {
            "oops\n": "oops\n",
            "\n": line + "\n",
            "blank-crlf": line + "\r\n",
            "unclosed-quote": line.replace(",", ',"', 1),
            "extra-field": line.replace("\n", ",x\n"),
            "missing-field": line.split(",", 1)[1],
            "satellite": line.replace(",dc,", ",satellite,")
            .replace(",wan,", ",satellite,")
            .replace(",metro,", ",satellite,"),
        }[kind]
    path = tmp_path_factory.mktemp("invariant") / "d.csv"
    path.write_text(header + "".join(body))
    data_lines = sum(1 for line in "".join(body).splitlines() if line.strip())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df, report = dwcp_data.read_training_data(path, on_bad_rows="quarantine", report=True)
    assert df.height + report.rejected.get(str(path), 0) == data_lines


def _csv_text(frame: pl.DataFrame) -> str:
    return frame.head(50).drop(dwcp_data.LABEL_SCHEMA.names()).write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("mangle", "rule", "says"),
    [
        (lambda t: t.replace(",", ";"), "csv_delimiter", "semicolons"),
        (lambda t: t.replace(",", "\t"), "csv_delimiter", "tabs"),
        (
            lambda t: t.replace("\n", "\r\n", 1).split("\r\n", 1)[0].upper() + "\n" + t.split("\n", 1)[1],
            "column_name",
            "TIMESTAMP",
        ),
        (
            lambda t: t.split("\n", 1)[0].replace(",", ", ") + "\n" + t.split("\n", 1)[1],
            "column_name",
            "' region'",
        ),
        (lambda t: "a,b,c\n1,2,3\n", "column_name", "none of its columns"),
    ],
)
def test_a_csv_the_schema_cannot_read_is_refused_not_read_as_nulls(tmp_path, frame, mangle, rule, says):
    path = tmp_path / "odd.csv"
    path.write_text(mangle(_csv_text(frame)))
    for call in (
        lambda: dwcp_data.read_training_data(path),
        lambda: dwcp_data.read_training_data(path, on_bad_rows="quarantine"),
        lambda: dwcp_data.clean_dataset(tmp_path / "odd.csv", tmp_path / "out"),
    ):
        with pytest.raises(DataError, match=says) as e:
            call()
        assert e.value.rule == rule and str(path) in str(e.value)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("*.rejects.csv"))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_csv_names_its_encoding(tmp_path, frame, encoding):
    path = tmp_path / "wide.csv"
    path.write_bytes(_csv_text(frame).encode(encoding))
    with pytest.raises(DataError, match="UTF-16 or UTF-32") as e:
        dwcp_data.read_training_data(path, on_bad_rows="quarantine")
    assert e.value.rule == "csv_encoding"


def test_a_utf8_byte_order_mark_is_read(tmp_path, frame):
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + _csv_text(frame).encode())
    (tmp_path / "plain.csv").write_text(_csv_text(frame))
    expected = dwcp_data.read_training_data(tmp_path / "plain.csv")
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "bom.csv"), expected)


def test_cr_only_line_endings_are_read_as_lines(tmp_path, frame):
    text = _csv_text(frame)
    (tmp_path / "lf.csv").write_text(text)
    (tmp_path / "cr.csv").write_bytes(text.replace("\n", "\r").encode())
    expected = dwcp_data.read_training_data(tmp_path / "lf.csv")
    assert expected.height == 50
    assert_frame_equal(dwcp_data.read_training_data(tmp_path / "cr.csv"), expected)
    bad = text.split("\n")
    bad[3] = bad[3].replace(",dc,", ",moon,").replace(",wan,", ",moon,").replace(",metro,", ",moon,")
    (tmp_path / "cr.csv").write_bytes("\r".join(bad).encode())
    with pytest.raises(CsvError) as e:
        dwcp_data.read_training_data(tmp_path / "cr.csv")
    assert e.value.line == 4
    with pytest.warns(UserWarning, match="1 bad line"):
        got = dwcp_data.read_training_data(tmp_path / "cr.csv", on_bad_rows="quarantine")
    assert got.height == 49


def test_a_byte_that_is_not_utf8_is_named_and_quarantined(tmp_path, frame):
    text = _csv_text(frame).encode()
    lines = text.split(b"\n")
    lines[7] = lines[7].replace(b"us-", b"\xe9s-", 1)
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(CsvError, match="not valid UTF-8") as e:
        dwcp_data.read_training_data(path)
    assert (e.value.line, e.value.column) == (8, "region")
    with pytest.warns(UserWarning, match="1 bad line"):
        got = dwcp_data.read_training_data(path, on_bad_rows="quarantine")
    assert got.height == 49
    assert (tmp_path / "latin1.csv.rejects.csv").read_bytes().split(b"\n")[1] == lines[7]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latin1.csv", "latin1.csv.rejects.csv"]


def test_fractional_floats_in_an_integer_column_are_refused_not_truncated(tmp_path, frame):
    df = frame.head(20).with_columns(pl.col("data_size_bytes").cast(pl.Float64))
    df.write_parquet(tmp_path / "whole.parquet")
    assert dwcp_data.read_training_data(tmp_path / "whole.parquet")["data_size_bytes"].dtype == pl.Int64
    for value in (817388.7, float("nan"), float("inf"), 1e30):
        df.with_columns(
            pl.when(pl.int_range(pl.len()) == 6)
            .then(value)
            .otherwise(pl.col("data_size_bytes"))
            .alias("data_size_bytes")
        ).write_parquet(tmp_path / "frac.parquet")
        with pytest.raises(DataError, match="data_size_bytes") as e:
            dwcp_data.read_training_data(tmp_path / "frac.parquet")
        assert (e.value.row, e.value.rule) == (6, "schema_dtype"), value


def test_a_symlink_loop_under_a_recursive_glob_reads_each_file_once(tmp_path, frame):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    frame.head(10).write_parquet(data / "a.parquet")
    frame.slice(10, 5).write_parquet(data / "sub" / "b.parquet")
    (data / "sub" / "loop").symlink_to(data)
    got = dwcp_data.read_training_data(str(data / "**" / "*.parquet"), report=True)[1]
    assert [os.path.relpath(f, data) for f in got.files] == ["a.parquet", os.path.join("sub", "b.parquet")]
    assert got.rows == 15
