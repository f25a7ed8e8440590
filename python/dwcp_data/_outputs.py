"""Outputs that never lose data: what may be replaced, built beside the target, published whole.

Every writer of this package follows these rules:

* An output never overlaps its input: it is not an input file or folder, does
  not hold one, and does not lie inside an input folder (symlinks resolved).
* An existing folder is replaced only if it is an earlier output of ours: it
  holds our manifest (:data:`MANIFEST`) and nothing the manifest does not
  list. An empty folder is free; anything else needs ``overwrite=True``.
* A folder is built beside its target (same file system) and published in
  one step: on Linux an atomic exchange (``renameat2(RENAME_EXCHANGE)``), so
  that the target path never stops existing; elsewhere two renames. The old
  folder is removed afterwards. Folders and files get the mode of what they
  replace, or the one the umask gives (a setgid bit the parent passes on is kept).
* Work left by runs that died (their temporary files and folders, named after
  the host, process id and process start time) is removed by the next run
  that works in the same place; work of live processes is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from dwcp_data import _core, _json
from dwcp_data.errors import DataError, InvalidArgumentError, StorageError

__all__ = [
    "MANIFEST",
    "ExportFolder",
    "FolderBuild",
    "atomic_path",
    "check_manifest_files",
    "check_output_file",
    "check_output_folder",
    "export_folder",
    "output_folder",
    "publish_copy",
    "publish_file",
    "read_manifest",
    "shard_name",
    "storage_errors",
    "work_folder",
]

#: The file that marks a folder as an output of ours and describes it.
MANIFEST = "_dwcp_manifest.json"
#: What the manifest's ``format`` says.
_FORMAT = "dwcp-data output"

#: Our temporary files and folders: ``.<name>.<host>.<pid>-<start>.<random>.<kind>``.
_WORK_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[^.]+)\.(?P<pid>\d+)-(?P<start>\d+)\.(?P<rand>[0-9a-f]+)"
    r"\.(?P<kind>tmp|build|old|work)$",
    re.DOTALL,  # an output's name may hold a line break
)
#: Names longer than this (in UTF-8 bytes) are shortened in work names, so that
#: the host, process and random parts fit the 255 bytes a file name may have.
_STEM_BYTES = 100


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it back at once
    os.umask(mask)
    return mask


def _start_time(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot (0 where unknown):
    with its id, it names a process even after ids are reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # the command name may hold spaces and parentheses: fields follow the last ')'
            return int(f.read().rpartition(b")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def _host() -> str:
    """This host's short name as work names hold it (at most 63 characters)."""
    return (socket.gethostname().split(".")[0] or "host")[:63]


def _work_stem(name: str) -> str:
    """``name`` as our work names hold it: whole, or when long its first bytes
    and a digest of the whole (the same name always gives the same stem)."""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= _STEM_BYTES:
        return name
    head = encoded[: _STEM_BYTES - 9].decode("utf-8", "ignore")
    return f"{head}~{hashlib.sha256(encoded).hexdigest()[:8]}"


def _work_name(name: str, kind: str) -> str:
    """A fresh name for our temporary ``kind`` of ``name`` (see :data:`_WORK_NAME`)."""
    pid = os.getpid()
    return f".{_work_stem(name)}.{_host()}.{pid}-{_start_time(pid)}.{secrets.token_hex(4)}.{kind}"


def _is_stale(entry: str) -> bool:
    """Whether ``entry`` is our temporary file or folder, left by a process of
    this host that is gone (a live one's, or another host's, is never stale)."""
    found = _WORK_NAME.match(entry)
    if found is None or found["host"] != _host():
        return False
    pid, start = int(found["pid"]), int(found["start"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # a process of another user has that id
    # the id is taken: by the process that made the entry only if it started then
    return start != 0 and _start_time(pid) not in (0, start)


def _remove_stale(folder: Path, pattern: str) -> None:
    """Removes our work in ``folder`` matching the glob ``pattern`` that dead processes left."""
    for path in folder.glob(pattern):
        if _is_stale(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):  # a read-only file system: left for later
                    path.unlink()


#: Write failures for want of room or rights to grow a file: full device,
#: quota, file-size limit, read-only file system.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
#: How Rust (polars' writers, our core) names an OS error in its messages.
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


@contextlib.contextmanager
def storage_errors(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Turns a write that failed for want of room (see :data:`_NO_ROOM`) in
    the body into :class:`~dwcp_data.errors.StorageError` naming ``path`` and
    ``what`` was being written; other errors pass unchanged."""
    try:
        yield
    except StorageError:
        raise
    except (OSError, pl.exceptions.PolarsError) as exc:
        found = _OS_ERROR.search(str(exc))
        code = getattr(exc, "errno", None) or (int(found[1]) if found else None)
        if code not in _NO_ROOM:
            raise
        raise StorageError(
            f"{os.fspath(path)}: writing {what} failed: {os.strerror(code)}. Nothing was published; free "
            "space there or write elsewhere",
            path=os.fspath(path),
            errno=code,
        ) from exc


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    If the body raises, the temporary file is removed and ``target`` is left as
    it was: a reader never sees a half-written file. The file gets the mode
    ``target`` had, or else the one the umask gives a new file. Temporary files
    that dead processes of this host left beside ``target`` are removed.
    """
    target = Path(_path_text(target, "path"))
    _check_not_mount_point(target, "path")
    tmp_path = target.parent / _work_name(target.name, "tmp")
    try:
        with storage_errors(target, "the file"):
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(target.parent, f".{glob.escape(_work_stem(target.name))}.*.tmp")
            tmp_path.touch(mode=0o600, exist_ok=False)
            yield tmp_path
            publish_file(tmp_path, target)
    finally:
        with contextlib.suppress(OSError):  # never hides the error that brought us here
            tmp_path.unlink(missing_ok=True)


def publish_file(finished: Path, target: Path) -> None:
    """Renames the finished file ``finished`` (on ``target``'s file system)
    onto ``target``, with the mode ``target`` had or else the umask's."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    os.chmod(finished, mode)
    os.replace(finished, target)


@contextlib.contextmanager
def work_folder(kind: str, work_dir: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """A private work folder in ``work_dir`` (default: the system's temporary
    folder), removed afterwards; work folders of dead runs there are removed first.

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``work_dir`` is not an existing folder.
    """
    base = Path(tempfile.gettempdir() if work_dir is None else work_dir)
    if not base.is_dir():
        raise InvalidArgumentError.of("work_dir", f"{str(base)!r} is not an existing folder")
    _remove_stale(base, ".dwcp-*.work")
    path = base / _work_name(f"dwcp-{kind}", "work")
    try:
        with storage_errors(path, "work files (set work_dir to a folder with room)"):
            path.mkdir(mode=0o700)
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _path_text(path: str | os.PathLike[str], param: str) -> str:
    """``path`` as text; refuses one no file system can hold (a NUL byte)."""
    text = os.fspath(path)
    if "\0" in str(text):
        raise InvalidArgumentError.of(param, f"{text!r} holds a NUL byte, which no file name can hold")
    return str(text)


def _check_not_mount_point(target: Path, param: str) -> None:
    """Refuses a ``target`` that is a mount point (a container volume, a bind
    mount): nothing can be renamed onto it, so an output cannot be published
    there in one step. An output inside it is fine."""
    if os.path.ismount(target) and target.parent != target:
        raise InvalidArgumentError.of(
            param,
            f"{str(target)!r} is a mount point (a container volume?): an output is published by "
            "renaming it into place, which a mount point does not allow. Name a folder or file inside "
            f"it instead, e.g. {str(target / 'training')!r}",
        )


def _real(path: str | os.PathLike[str], param: str = "out") -> Path:
    """``path`` absolute, with every symlink of its existing part resolved."""
    return Path(os.path.realpath(os.path.abspath(_path_text(path, param))))


def _within(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it."""
    return inner == outer or outer in inner.parents


def _check_not_input(
    target: Path, inputs: Iterable[str | os.PathLike[str]], param: str, *, folder: bool
) -> None:
    """Refuses a ``target`` that is an input, lies inside an input folder, or
    (a folder output) holds an input."""
    for given in inputs:
        source = _real(given)
        inside_input = target == source or (source.is_dir() and _within(target, source))
        if inside_input or (folder and _within(source, target)):
            raise InvalidArgumentError.of(
                param,
                f"{str(target)!r} overlaps the input {os.fspath(given)!r}; "
                "writing it would replace or delete the data being read: choose another output",
            )


def check_output_file(
    path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = (), param: str = "out"
) -> Path:
    """``path`` as a file output: refused if it is one of ``inputs`` or lies inside an input folder.

    Raises:
        dwcp_data.errors.InvalidArgumentError: it overlaps an input.
    """
    _check_not_input(_real(path, param), inputs, param, folder=False)
    return Path(path)


def _manifest_error(file: Path, problem: str) -> DataError:
    return DataError(
        f"{file}: {problem}; the manifest was edited or damaged, so the folder is not trusted. Write the "
        "output again (or remove the folder)",
        column="",
        row=None,
        rule="manifest",
    )


def _is_plain_name(name: object) -> bool:
    """Whether ``name`` names a file in its folder and nothing else: no
    separator, not ``.`` or ``..``, no NUL."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(c in name for c in ("/", "\\", "\0"))
        and os.path.basename(name) == name
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _checked_entry(file: Path, entry: object) -> None:
    """Refuses a manifest's file entry that does not name a file of its folder, or has odd figures."""
    if not isinstance(entry, dict) or not _is_plain_name(entry.get("name")):
        name = entry.get("name") if isinstance(entry, dict) else entry
        raise _manifest_error(file, f"it lists {name!r}, which is not the name of a file in its folder")
    rows = entry.get("rows")
    if not _is_count(entry.get("bytes")) or not (rows is None or _is_count(rows)):
        raise _manifest_error(file, f"its entry for {entry['name']!r} has no valid bytes and rows")


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of an output folder of ours, checked; ``None`` when
    ``folder`` has none.

    Raises:
        dwcp_data.errors.DataError: ``folder`` has a manifest file that is
            not one of ours as written (rule ``manifest``): not JSON (cut
            short), another format, or an entry naming a file outside the
            folder (a separator, ``..``) or with figures that are not counts.
    """
    file = Path(folder) / MANIFEST
    try:
        text = file.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _manifest_error(file, f"it cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise _manifest_error(file, "it is not JSON (cut short?)") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("files"), list):
        raise _manifest_error(file, "it is not a dwcp-data manifest")
    for entry in data["files"]:
        _checked_entry(file, entry)
    return data


def _listed(manifest: dict[str, Any]) -> list[str]:
    """The file names a manifest lists."""
    return [f["name"] for f in manifest["files"]]


def _foreign_entries(folder: Path) -> list[str]:
    """The entries of ``folder`` that are not part of an earlier output of ours
    (all of them, where its manifest is damaged)."""
    entries = sorted(os.listdir(folder))
    try:
        manifest = read_manifest(folder)
    except DataError:
        manifest = None
    if manifest is None:
        return entries
    ours = {MANIFEST, *_listed(manifest)}
    return [e for e in entries if e not in ours]


def _check_replaceable(target: Path, param: str, overwrite: bool) -> None:
    """Refuses a ``target`` that holds files not ours (unless ``overwrite``), or is not a folder."""
    if not target.exists():
        return
    if not target.is_dir():
        raise InvalidArgumentError.of(param, f"{str(target)!r} is a file, not a folder")
    foreign = _foreign_entries(target)
    if foreign and not overwrite:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise InvalidArgumentError.of(
            param,
            f"{str(target)!r} holds "
            f"{', '.join(repr(e) for e in foreign[:5])}{more}, which dwcp-data did not write; nothing "
            "was changed. Choose an empty or new folder, or pass overwrite=True (--overwrite) to "
            "replace the folder and everything in it",
        )


def check_output_folder(
    out: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    param: str = "out",
    replaced: bool = True,
) -> Path:
    """The folder ``out`` resolved (symlinks followed), if an output may be
    published there; :func:`output_folder` checks again as it publishes.
    ``replaced=False``: the folder is filled in place, not replaced (an export
    folder), so it may be a mount point.

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``out`` overlaps one of
            ``inputs``, holds files not ours (without ``overwrite``), is a
            file, or cannot be replaced (the root, the working folder or one
            above it, a mount point).
    """
    if not isinstance(overwrite, bool):
        raise InvalidArgumentError.of("overwrite", f"must be True or False, got {overwrite!r}")
    target = _real(out, param)
    if target.parent == target or _within(Path.cwd().resolve(), target):
        what = "the root folder" if target.parent == target else "the working folder or one above it"
        raise InvalidArgumentError.of(
            param, f"{os.fspath(out)!r} is {what}, which cannot be replaced: name a folder for the output"
        )
    _check_not_input(target, inputs, param, folder=True)
    if replaced:
        _check_not_mount_point(target, param)
    _check_replaceable(target, param, overwrite)
    return target


def shard_name(i: int, count: int, suffix: str = ".parquet") -> str:
    """Shard ``i``'s file name among ``count``: ``part-00000.parquet``, … with
    enough digits that name order is shard order."""
    return f"part-{i:0{max(5, len(str(count - 1)))}d}{suffix}"


@dataclass
class FolderBuild:
    """An output folder being built (see :func:`output_folder`).

    Attributes:
        target: the folder it will replace or create.
        path: where its files are written meanwhile.
        info: what the manifest records besides the files (JSON-serialisable).
        rows: the rows of each file that holds rows, by name.
        sha256: the content hash of each file that has one, by name.
    """

    target: Path
    path: Path
    param: str
    overwrite: bool
    info: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    def file(self, name: str) -> Path:
        """Where to write the folder's file ``name`` (its rows, once known, go in :attr:`rows`)."""
        return self.path / name

    def _manifest(self) -> dict[str, Any]:
        files = [
            {"name": p.name, "bytes": p.stat().st_size, "rows": self.rows.get(p.name)}
            | ({"sha256": self.sha256[p.name]} if p.name in self.sha256 else {})
            for p in sorted(self.path.iterdir())
            if p.name != MANIFEST
        ]
        return {
            "format": _FORMAT,
            "dwcp_data": _core.__version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **self.info,
            "files": files,
        }

    def _publish(self) -> None:
        """Puts the finished folder in place of ``target`` in one step."""
        with open(self.path / MANIFEST, "w", encoding="utf-8") as f:
            f.write(_json.dumps(self._manifest(), indent=2))
        target = self.target
        while True:
            try:
                os.rename(self.path, target)  # no target (or an empty folder: replaced)
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            # the target holds files: still only ours (or overwrite), as when the run started?
            _check_replaceable(target, self.param, self.overwrite)
            if _core.exchange_paths(self.path, target):
                shutil.rmtree(self.path, ignore_errors=True)  # the old output, now at our path
                return
            old = target.parent / _work_name(target.name, "old")
            try:
                os.rename(target, old)
            except FileNotFoundError:
                continue  # removed meanwhile: try again
            os.rename(self.path, target)
            shutil.rmtree(old, ignore_errors=True)
            return


def _folder_mode(build: Path, target: Path) -> None:
    """Gives ``build`` the mode and group ``target`` has, or else the mode the
    umask gives a new folder; a setgid bit ``build`` inherited is kept."""
    inherited = build.stat().st_mode & stat.S_ISGID
    try:
        old = target.stat()
    except FileNotFoundError:
        os.chmod(build, (0o777 & ~_umask()) | inherited)
        return
    if old.st_gid != build.stat().st_gid:
        with contextlib.suppress(OSError):  # only a member of the group may give it
            os.chown(build, -1, old.st_gid)
    os.chmod(build, stat.S_IMODE(old.st_mode) | inherited)


@contextlib.contextmanager
def output_folder(
    out: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    param: str = "out",
    kind: str = "data set",
) -> Iterator[FolderBuild]:
    """The folder ``out``, built beside itself and published whole, with a
    manifest of its files, when the body finishes; if the body raises,
    nothing changes and the half-built folder is removed.

    Raises:
        dwcp_data.errors.InvalidArgumentError: see :func:`check_output_folder`.
    """
    target = check_output_folder(out, inputs=inputs, overwrite=overwrite, param=param)
    build = target.parent / _work_name(target.name, "build")
    writing = f"the output folder {os.fspath(out)!r}"
    try:
        with storage_errors(build, writing):
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(target.parent, f".{glob.escape(_work_stem(target.name))}.*")
            build.mkdir(mode=0o700)
            _folder_mode(build, target)
        folder = FolderBuild(target, build, param, overwrite, {"kind": kind})
        yield folder  # its files are written through atomic_path, which names them
        with storage_errors(build, writing):
            folder._publish()
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def publish_copy(
    source: Path, out: str | os.PathLike[str], *, kind: str, info: dict[str, Any], overwrite: bool = False
) -> Path:
    """The output folder of ours ``source`` published again at ``out`` (as
    :func:`output_folder` publishes): its files hard-linked where the file
    system allows, copied where not, each with its SHA-256 in the manifest,
    and ``info`` besides; the folder published.

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``source`` is not an output of
            ours, or ``out`` cannot be published (see :func:`output_folder`).
    """
    manifest = read_manifest(source)
    if manifest is None:
        raise InvalidArgumentError.of("source", f"{str(source)!r} is not an output folder of dwcp-data")
    with output_folder(out, inputs=[source], overwrite=overwrite, kind=kind) as build:
        for entry in manifest["files"]:
            name = entry["name"]
            try:
                os.link(source / name, build.file(name))
            except OSError:
                shutil.copy2(source / name, build.file(name))
            if entry.get("rows") is not None:
                build.rows[name] = entry["rows"]
            build.sha256[name] = _sha256(build.file(name))
        build.info.update(info)
    return build.target


def check_manifest_files(folder: Path, found: Iterable[Path]) -> None:
    """Raises ``DataError`` (rule ``manifest``) when ``folder`` is an output of
    ours and its data files ``found`` are not what its manifest lists: a
    listed file is gone (the data set is incomplete), a file is not listed
    (another output's, or put there by hand), or a file's size differs from
    the manifest's (replaced or changed since it was written); or when the
    manifest itself is damaged (see :func:`read_manifest`)."""
    manifest = read_manifest(folder)
    if manifest is None:
        return
    listed = {entry["name"]: entry for entry in manifest["files"]}
    present = {path.name: path for path in found}
    for name in listed:
        if name.endswith((".parquet", ".csv")) and name not in present:
            raise DataError(
                f"{folder}: its manifest lists {name!r}, which is missing: the data set is incomplete",
                column="",
                row=None,
                rule="manifest",
            )
    for name, path in present.items():
        entry = listed.get(name)
        size = path.stat().st_size
        if entry is None or entry["bytes"] != size:
            problem = (
                "is not listed in its folder's manifest (another output's file, or one put there by hand)"
                if entry is None
                else f"has {size:,} bytes where its folder's manifest records {entry['bytes']:,} (replaced or "
                "changed since dwcp-data wrote it)"
            )
            raise DataError(
                f"{path}: {problem}: the data set is not the output that was written",
                column="",
                row=None,
                rule="manifest",
            )


#: A day as an export folder names it.
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class ExportFolder:
    """A folder of ours filled a file at a time (day shards of an export):
    each file is written atomically and recorded in the manifest as soon as it
    is done, so a run killed part way keeps what it finished.

    The manifest is trusted only as far as it checks out: every day entry
    must name exactly that day's shard (nothing is ever read, linked or
    removed outside the folder), and a day is reused only while its shard
    has the size and the rows recorded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._days = _recorded_days(path)

    @staticmethod
    def file(day: str) -> str:
        """The shard of ``day`` (``YYYY-MM-DD``)."""
        return f"day-{day}.parquet"

    def days(self) -> dict[str, dict[str, Any]]:
        """What the manifest records of each day."""
        return dict(self._days)

    def holds(self, recorded: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
        """Whether a day ``recorded`` so holds what ``wanted`` describes, and its
        shard is still the file that was recorded: the same size, and the rows
        its footer counts are those recorded."""
        if recorded is None or any(recorded.get(k) != v for k, v in wanted.items()):
            return False
        shard = self.path / recorded["name"]
        try:
            if shard.stat().st_size != recorded.get("bytes"):
                return False
            rows = pl.scan_parquet(shard, glob=False).select(pl.len()).collect().item()
        except (OSError, pl.exceptions.PolarsError):
            return False
        return bool(_is_count(recorded.get("rows")) and rows == recorded["rows"])

    def record(self, day: str, info: dict[str, Any]) -> None:
        """Records ``day``'s shard, just written, with ``info``."""
        name = self.file(day)
        self._days[day] = {**info, "name": name, "bytes": (self.path / name).stat().st_size}
        self._write()

    def prune(self, keep: set[str]) -> None:
        """Removes the shards of the days not in ``keep``."""
        for day in sorted(set(self._days) - keep):
            (self.path / self.file(day)).unlink(missing_ok=True)
            del self._days[day]
        self._write()

    def _write(self) -> None:
        days = dict(sorted(self._days.items()))
        manifest = {
            "format": _FORMAT,
            "dwcp_data": _core.__version__,
            "kind": "export",
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "days": days,
            "files": [{"name": d["name"], "bytes": d["bytes"], "rows": d.get("rows")} for d in days.values()],
        }
        with atomic_path(self.path / MANIFEST) as tmp:
            tmp.write_text(_json.dumps(manifest, indent=2), encoding="utf-8")


def _recorded_days(folder: Path) -> dict[str, dict[str, Any]]:
    """The days an export folder's manifest records, each checked to name
    exactly its day's shard; raises ``DataError`` (rule ``manifest``) otherwise."""
    manifest = read_manifest(folder)
    days = (manifest or {}).get("days", {})
    file = folder / MANIFEST
    if not isinstance(days, dict):
        raise _manifest_error(file, "its `days` is not an object")
    for day, entry in days.items():
        if (
            not _DAY.fullmatch(day)
            or not isinstance(entry, dict)
            or entry.get("name") != ExportFolder.file(day)
        ):
            shown = entry.get("name") if isinstance(entry, dict) else entry
            raise _manifest_error(
                file, f"its entry for the day {day!r} does not name that day's shard ({shown!r})"
            )
    return dict(days)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``folder`` (``flock`` on the folder itself,
    released when the process dies): a second holder waits. Where there is no
    ``flock`` (Windows), no lock is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def export_folder(out: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[ExportFolder]:
    """The export folder ``out``, locked while the body runs: new, empty, or an
    export folder of ours (another folder is refused, or with
    ``overwrite=True`` emptied first). Its manifest is read under the lock, so
    two exports into one folder take turns and each sees what the other
    recorded. It may be a mount point: it is filled in place.

    Raises:
        dwcp_data.errors.InvalidArgumentError: see :func:`check_output_folder`.
        dwcp_data.errors.DataError: its manifest is damaged (without ``overwrite``).
    """
    target = check_output_folder(out, overwrite=True, replaced=False)  # the root, the working folder, a file
    try:
        manifest = read_manifest(target)
        if manifest is not None and manifest.get("kind") == "export":
            _recorded_days(target)
    except DataError:
        if not overwrite:
            raise
        manifest = None
    ours = manifest is not None and manifest.get("kind") == "export"
    if target.is_dir() and not ours and os.listdir(target):
        if not overwrite:
            _check_replaceable(target, "output", overwrite=False)
            raise InvalidArgumentError.of(
                "output",
                f"{str(target)!r} holds another dwcp-data output, not an "
                "export; choose another folder, or pass overwrite=True (--overwrite) to replace it",
            )
        _empty(target)
    with storage_errors(target, "the export folder"):
        target.mkdir(parents=True, exist_ok=True)  # the umask's mode, a parent's setgid bit
    with _locked(target):
        yield ExportFolder(target)


def _empty(folder: Path) -> None:
    """Removes everything in ``folder`` (kept itself: it may be a mount point)."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
