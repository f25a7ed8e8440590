"""Outputs never lose data: folders not ours are refused, inputs are never overwritten,
folders are built beside their target and published whole, with the umask's modes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import dwcp_data
from dwcp_data.datasets import clean_dataset, label_dataset, validate_dataset
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import END, hostile, write_shards

MANIFEST = "_dwcp_manifest.json"


def dwcp(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    exe = shutil.which("dwcp-data")
    assert exe, "the dwcp-data console script is installed with the wheel"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    df = hostile(3000, seed=7)
    return write_shards(tmp_path / "raw", [df.slice(0, 1200), df.slice(1200, 1800)])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def a_home_folder(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("x")
    (home / "notes").mkdir()
    (home / "notes" / "a.txt").write_text("y")
    return home


WRITERS = {
    "clean_dataset": lambda src, out, **kw: clean_dataset(src, out, **kw),
    "label_dataset": lambda src, out, **kw: label_dataset(src, out, **kw),
    "run_pipeline": lambda src, out, **kw: dwcp_data.run_pipeline(
        src, out, min_rows=10, on_invalid="continue", **kw
    ),
    "write_training_data": lambda src, out, **kw: dwcp_data.write_training_data(
        dwcp_data.read_training_data(src), out, shard_rows=1000, **kw
    ),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_folder_holding_files_not_ours_is_refused_untouched(tmp_path, shards, writer):
    home = a_home_folder(tmp_path)
    before = snapshot(home)
    with pytest.raises(InvalidArgumentError, match=r"thesis\.tex.*overwrite=True") as e:
        WRITERS[writer](shards, home)
    assert e.value.param in ("out", "path")
    assert snapshot(home) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "raw"], "no build folder left"
    # an explicit overwrite replaces it whole
    WRITERS[writer](shards, home, overwrite=True)
    assert not (home / "thesis.tex").exists() and (home / MANIFEST).exists()


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_an_earlier_output_of_ours_is_replaced_but_not_once_a_user_adds_a_file(tmp_path, shards, writer):
    out = tmp_path / "out"
    WRITERS[writer](shards, out)
    first = json.loads((out / MANIFEST).read_text())
    assert first["format"] == "dwcp-data output" and first["files"]
    assert sorted(f["name"] for f in first["files"]) == sorted(
        p.name for p in out.iterdir() if p.name != MANIFEST
    )
    WRITERS[writer](shards, out)  # ours: replaced without asking
    (out / "my-notes.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match=r"my-notes\.txt"):
        WRITERS[writer](shards, out)
    assert (out / "my-notes.txt").read_text() == "mine"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "no build, old or work folder left beside the output"


def test_an_empty_folder_is_free(tmp_path, shards):
    (tmp_path / "empty").mkdir()
    clean_dataset(shards, tmp_path / "empty")
    assert (tmp_path / "empty" / MANIFEST).exists()


@pytest.mark.parametrize(
    "out",
    [
        "raw",  # the input itself
        ".",  # the folder holding the input
        "raw/cleaned",  # inside the input folder
        "link",  # a symlink to the input
    ],
)
def test_an_output_overlapping_its_input_is_refused(tmp_path, shards, out):
    (tmp_path / "link").symlink_to(shards)
    before = snapshot(shards)
    for call in (
        lambda: clean_dataset(shards, tmp_path / out),
        lambda: label_dataset(shards, tmp_path / out),
        lambda: dwcp_data.run_pipeline(shards, tmp_path / out, min_rows=10, overwrite=True),
    ):
        with pytest.raises(InvalidArgumentError, match="overlaps the input") as e:
            call()
        assert e.value.param == "out"
    assert snapshot(shards) == before
    assert not (shards / "cleaned").exists()


def test_the_cli_refuses_outputs_that_would_destroy_its_input(tmp_path, shards):
    before = snapshot(shards)
    proc = dwcp("pipeline", "--source", str(shards), "--out", str(shards))
    assert proc.returncode == 2 and "overlaps the input" in proc.stderr and "Traceback" not in proc.stderr
    proc = dwcp("clean", str(tmp_path / "raw"), "--out", str(tmp_path), "--overwrite")
    assert proc.returncode == 2 and "overlaps the input" in proc.stderr
    file = shards / "shard-000.parquet"
    for command in ("clean", "label"):
        proc = dwcp(command, str(file), "--out", str(file))
        assert proc.returncode == 2 and "overlaps the input" in proc.stderr, proc.stderr
    proc = dwcp("pipeline", "--source", str(file), "--out", str(file), "--min-rows", "10")
    assert proc.returncode == 2 and "overlaps the input" in proc.stderr
    assert snapshot(shards) == before


@pytest.mark.parametrize("out", [".", "/"])
def test_the_working_folder_or_the_root_as_out_is_a_clear_error(tmp_path, out):
    proc = dwcp("generate", "-n", "100", "--shard-rows", "50", "--out", out, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "cannot be replaced" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_generated_shards_replace_an_earlier_run_whole(tmp_path):
    out = tmp_path / "gen"
    for rows in ("50000", "20000"):
        proc = dwcp(
            "generate",
            "-n",
            rows,
            "--shard-rows",
            "10000",
            "--end",
            "2025-11-14T12:34:56Z",
            "--out",
            str(out),
        )
        assert proc.returncode == 0, proc.stderr
    assert dwcp_data.read_training_data(out).height == 20_000
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST] + [f"part-0000{i}.parquet" for i in range(2)]
    manifest = json.loads((out / MANIFEST).read_text())
    assert [f["rows"] for f in manifest["files"]] == [10_000, 10_000]
    (out / "thesis.tex").write_text("x")
    proc = dwcp("generate", "-n", "10", "--shard-rows", "5", "--out", str(out))
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    proc = dwcp("generate", "-n", "10", "--shard-rows", "5", "--out", str(out), "--overwrite")
    assert proc.returncode == 0 and dwcp_data.read_training_data(out).height == 10


def test_a_killed_generate_publishes_nothing_and_the_next_run_clears_its_work(tmp_path):
    out = tmp_path / "gen"
    proc = subprocess.Popen(
        [
            shutil.which("dwcp-data") or "",
            "generate",
            "-n",
            "50000000",
            "--freq",
            "1s",
            "--shard-rows",
            "200000",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".gen.*.build/part-00001.parquet")):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not out.exists(), "a partial folder never appears as the output"
    (build,) = tmp_path.glob(".gen.*.build")  # what the killed run left
    proc2 = dwcp("generate", "-n", "300", "--shard-rows", "100", "--out", str(out))
    assert proc2.returncode == 0, proc2.stderr
    assert not build.exists(), "the dead run's build folder is removed"
    assert dwcp_data.read_training_data(out).height == 300


def test_work_of_dead_processes_is_removed_and_of_live_ones_kept(tmp_path, shards):
    host = socket.gethostname().split(".")[0]
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    me = os.getpid()
    with open(f"/proc/{me}/stat", "rb") as f:
        my_start = int(f.read().rpartition(b")")[2].split()[19])
    stale = [
        tmp_path / f".out.{host}.{pid}-123.abcd1234.build",  # a process that is gone
        tmp_path / f".out.{host}.{me}-{my_start + 1}.abcd1234.old",  # our pid, reused: another process
    ]
    kept = [
        tmp_path / f".out.{host}.{me}-{my_start}.abcd1234.build",  # this process: alive
        tmp_path / f".out.otherhost.{pid}-123.abcd1234.build",  # another host's
        tmp_path / ".out.old",  # not ours at all
    ]
    for p in stale + kept:
        p.mkdir()
        (p / "part-00000.parquet").write_text("x")
    clean_dataset(shards, tmp_path / "out")
    assert [p.exists() for p in stale] == [False, False]
    assert all(p.exists() for p in kept)


def test_work_folders_of_dead_runs_in_work_dir_are_removed(tmp_path, shards):
    host = socket.gethostname().split(".")[0]
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    work = tmp_path / "work"
    stale = work / f".dwcp-clean.{host}.{int(dead.stdout)}-1.deadbeef.work"
    stale.mkdir(parents=True)
    (stale / "state-00000.arrow").write_bytes(b"x" * 1000)
    clean_dataset(shards, tmp_path / "out", work_dir=work)
    assert list(work.iterdir()) == []
    with pytest.raises(InvalidArgumentError, match="work_dir") as e:
        clean_dataset(shards, tmp_path / "out2", work_dir=tmp_path / "absent")
    assert e.value.param == "work_dir" and not (tmp_path / "out2").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_output_folders_follow_the_umask(tmp_path, shards, umask):
    old = os.umask(umask)
    try:
        clean_dataset(shards, tmp_path / "out")
    finally:
        os.umask(old)
    out = tmp_path / "out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    for f in out.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask, f.name


def test_a_shared_folder_keeps_its_mode_and_setgid_bit(tmp_path, shards):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2775)  # group-shared: new folders inherit the group
    clean_dataset(shards, shared / "out")
    mode = (shared / "out").stat().st_mode
    assert mode & stat.S_ISGID, "the setgid bit the parent passes on is kept"
    os.chmod(shared / "out", 0o2750)
    clean_dataset(shards, shared / "out")  # replaced: keeps the mode it had
    assert stat.S_IMODE((shared / "out").stat().st_mode) == 0o2750


def test_a_missing_shard_of_our_output_is_caught(tmp_path, shards):
    out = tmp_path / "out"
    clean_dataset(shards, out)
    (out / "part-00001.parquet").unlink()
    with pytest.raises(DataError, match=r"part-00001\.parquet.*incomplete") as e:
        dwcp_data.read_training_data(out)
    assert e.value.rule == "manifest"
    with pytest.raises(DataError, match="incomplete"):
        validate_dataset(out)


def test_shard_names_keep_their_order_past_99999_shards():
    from dwcp_data._outputs import shard_name

    for count in (1, 5, 100_000, 100_001, 2_500_000):
        picked = sorted(
            {i for i in (0, 1, 9, 10, 99_999, 100_000, count // 2, count - 2, count - 1) if 0 <= i < count}
        )
        names = [shard_name(i, count) for i in picked]
        assert names == sorted(names), count
    assert shard_name(0, 1) == "part-00000.parquet" and shard_name(100_000, 100_001) == "part-100000.parquet"


def test_the_manifest_records_rows_and_the_cleaning(tmp_path, shards):
    report = clean_dataset(shards, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["kind"] == "cleaned" and manifest["cleaning"] == report.to_dict()
    assert sum(f["rows"] for f in manifest["files"]) == report.rows_out
    files = {f["name"]: f["bytes"] for f in manifest["files"]}
    assert files == {p.name: p.stat().st_size for p in (tmp_path / "out").glob("*.parquet")}


def test_an_exchange_swaps_two_folders(tmp_path):
    from dwcp_data import _core

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "y").write_text("b")
    assert _core.exchange_paths(a, b)  # Linux, on this file system
    assert (a / "y").exists() and (b / "x").exists()
    with pytest.raises(FileNotFoundError):
        _core.exchange_paths(a, tmp_path / "absent")


def test_the_pipeline_quarantines_bad_csv_lines_of_a_folder(tmp_path):
    df = dwcp_data.generate_synthetic(3000, seed=3, end=END)
    folder = tmp_path / "csv"
    folder.mkdir()
    df.head(1500).write_csv(folder / "a.csv")
    text = df.tail(1500).write_csv()
    lines = text.splitlines()
    lines[10] = lines[10].replace(",metro,", ",nope,").replace(",dc,", ",nope,").replace(",wan,", ",nope,")
    (folder / "b.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(dwcp_data.errors.CsvError):
        dwcp_data.run_pipeline(folder, tmp_path / "out", min_rows=10)
    with pytest.warns(UserWarning, match="b.csv: 1 bad line"):
        result = dwcp_data.run_pipeline(folder, tmp_path / "out", min_rows=10, on_bad_rows="quarantine")
    assert result.report["source"]["rejected"] == {str(folder / "b.csv"): 1}
    assert result.report["stages"][0]["rows"] == 2999
    assert (folder / "b.csv.rejects.csv").read_text().splitlines()[1] == lines[10]
    proc = dwcp("clean", str(folder), "--out", str(tmp_path / "cleaned"), "--on-bad-rows", "quarantine")
    assert proc.returncode == 0, proc.stderr
    assert dwcp_data.read_training_data(tmp_path / "cleaned").height == result.report["cleaning"]["rows_out"]
    assert pl.read_csv(folder / "b.csv.rejects.csv").height == 1


@contextlib.contextmanager
def tmpfs(mount: Path, size: str, read_only: bool = False, holding: str | None = None):
    """A file system of ``size`` mounted at the new folder ``mount`` (the tests
    run as root, as CI does), holding an empty folder ``holding``, read-only if asked."""
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        if holding is not None:
            (mount / holding).mkdir()
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MiB file system."""
    with tmpfs(tmp_path / "small", "1m") as mount:
        yield mount


def test_a_full_disk_names_the_file_and_publishes_nothing(tmp_path, small_disk):
    df = dwcp_data.generate_synthetic(20_000, seed=4, end=END)
    with pytest.raises(dwcp_data.errors.StorageError, match="No space left on device") as e:
        dwcp_data.write_training_data(df, small_disk / "big.parquet")
    assert e.value.errno == 28 and e.value.path == str(small_disk / "big.parquet")
    assert isinstance(e.value, OSError) and list(small_disk.iterdir()) == []
    shards = write_shards(tmp_path / "raw", [df.slice(0, 10_000), df.slice(10_000, 10_000)])
    with pytest.raises(dwcp_data.errors.StorageError, match=r"part-0000\d\.parquet") as e:
        clean_dataset(shards, small_disk / "clean")
    assert list(small_disk.iterdir()) == [], "no output, no build folder"
    proc = dwcp("clean", str(shards), "--out", str(small_disk / "clean"))
    assert proc.returncode == 4 and "No space left on device" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_full_work_dir_is_named_as_such(tmp_path, small_disk):
    df = dwcp_data.generate_synthetic(60_000, seed=4, end=END)
    shards = write_shards(tmp_path / "raw", [df.slice(0, 30_000), df.slice(30_000, 30_000)])
    with pytest.raises(dwcp_data.errors.StorageError, match="work_dir") as e:
        clean_dataset(shards, tmp_path / "out", work_dir=small_disk)
    assert e.value.path.startswith(str(small_disk)) and not (tmp_path / "out").exists()
    assert list(small_disk.iterdir()) == [], "the work folder is removed"


@pytest.fixture
def mount_point(tmp_path: Path):
    """An empty folder that is a mount point, as a container volume is."""
    with tmpfs(tmp_path / "volume", "64m") as mount:
        yield mount


def test_a_mount_point_as_out_is_refused_before_any_work(tmp_path, shards, mount_point):
    for writer in WRITERS.values():
        with pytest.raises(InvalidArgumentError, match="mount point") as e:
            writer(shards, mount_point)
        assert e.value.param in ("out", "path") and str(mount_point / "training") in str(e.value)
    proc = dwcp("clean", str(shards), "--out", str(mount_point))
    assert proc.returncode == 2 and "mount point" in proc.stderr and "Traceback" not in proc.stderr
    # a folder inside the volume is where the output goes
    clean_dataset(shards, mount_point / "training")
    assert dwcp_data.read_training_data(mount_point / "training").height > 0
    assert sorted(p.name for p in mount_point.iterdir()) == ["training"]


@pytest.fixture
def read_only(tmp_path: Path):
    """A read-only file system holding an empty folder ``sub``."""
    with tmpfs(tmp_path / "ro", "1m", read_only=True, holding="sub") as mount:
        yield mount


@pytest.mark.parametrize("name", ["sub/out.parquet", "new/out.parquet", "sub/out.csv"])
def test_a_file_on_a_read_only_file_system_is_a_storage_error(tmp_path, read_only, name):
    df = dwcp_data.generate_synthetic(100, seed=4, end=END)
    with pytest.raises(dwcp_data.errors.StorageError, match="Read-only file system") as e:
        dwcp_data.write_training_data(df, read_only / name)
    assert e.value.errno == 30 and e.value.path == str(read_only / name)
    source = tmp_path / "in.parquet"
    df.write_parquet(source)
    proc = dwcp("clean", str(source), "--out", str(read_only / name))
    assert proc.returncode == 4 and "Read-only file system" in proc.stderr and "Traceback" not in proc.stderr


def test_work_of_a_killed_run_is_removed_when_the_name_holds_a_line_break(tmp_path, shards):
    host = socket.gethostname().split(".")[0]
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f".two\nlines.{host}.{int(dead.stdout)}-123.abcd1234.build"
    stale.mkdir()
    clean_dataset(shards, tmp_path / "two\nlines")
    assert not stale.exists() and (tmp_path / "two\nlines" / MANIFEST).exists()


def name_of(length: int, suffix: str = "") -> str:
    """A file name of ``length`` UTF-8 bytes, mostly two-byte letters, ending in ``suffix``."""
    room = length - len(suffix)
    return "é" * (room // 2) + "x" * (room % 2) + suffix


@pytest.mark.parametrize("length", [200, 225, 240, 255])
def test_long_output_names_are_written(tmp_path, shards, length):
    df = dwcp_data.read_training_data(shards)
    file = tmp_path / name_of(length, ".parquet")
    assert len(file.name.encode()) == length
    dwcp_data.write_training_data(df, file)
    assert dwcp_data.read_training_data(file).height == df.height
    folder = tmp_path / name_of(length)
    clean_dataset(shards, folder)
    assert (folder / MANIFEST).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "no work left"


def test_a_nul_byte_in_out_is_refused_by_name(tmp_path, shards):
    df = dwcp_data.read_training_data(shards)
    with pytest.raises(InvalidArgumentError, match="NUL") as e:
        dwcp_data.write_training_data(df, tmp_path / "a\0b.parquet")
    assert e.value.param == "path"
    with pytest.raises(InvalidArgumentError, match="NUL") as e:
        clean_dataset(shards, tmp_path / "a\0b")
    assert e.value.param == "out"


def test_a_folder_of_ours_is_read_only_as_its_manifest_describes_it(tmp_path, shards):
    out, other = tmp_path / "out", tmp_path / "other"
    clean_dataset(shards, out)
    label_dataset(shards, other)
    # a shard replaced by another output's shard of the same name
    shutil.copy(other / "part-00000.parquet", out / "part-00000.parquet")
    with pytest.raises(DataError, match=r"part-00000\.parquet: has .* bytes where") as e:
        dwcp_data.read_training_data(out)
    assert e.value.rule == "manifest"
    clean_dataset(shards, out)
    # a shard put there by hand
    shutil.copy(other / "part-00001.parquet", out / "part-00007.parquet")
    with pytest.raises(DataError, match="not listed"):
        validate_dataset(out)
    (out / "part-00007.parquet").unlink()
    # a manifest cut short no longer switches the check off
    manifest = (out / MANIFEST).read_text()
    (out / MANIFEST).write_text(manifest[: len(manifest) // 2])
    with pytest.raises(DataError, match="not JSON") as e:
        dwcp_data.read_training_data(out)
    assert e.value.rule == "manifest"
    # such a folder is no longer ours to replace without overwrite=True
    with pytest.raises(InvalidArgumentError, match="did not write"):
        clean_dataset(shards, out)
    clean_dataset(shards, out, overwrite=True)
    assert dwcp_data.read_training_data(out).height > 0
