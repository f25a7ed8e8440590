"""Old published sets and run folders removed, so that a DAG's output does not
grow without end; only what the DAG itself wrote is ever removed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from dwcp_data._outputs import read_manifest
from dwcp_data.airflow._runs import BESIDE_PUBLISHED, beside, output, run_dir
from dwcp_data.errors import DwcpDataError

__all__ = ["keep_newest", "published_sets"]


def published_sets(dag_id: str) -> list[tuple[str, Path]]:
    """This DAG's published sets, with their window ends, oldest first: folders
    whose manifest is ours, of kind ``published``, and names this DAG."""
    found = []
    for folder in (output() / "published").glob("*"):
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            manifest = read_manifest(folder)
        except DwcpDataError:
            continue  # damaged: not provably ours, so never removed
        if manifest and manifest.get("kind") == "published" and manifest.get("dag_id") == dag_id:
            found.append((str(manifest.get("window", {}).get("end", "")), folder))
    return sorted(found)


def keep_newest(context: dict[str, Any], keep: int) -> list[Path]:
    """Removes all but the ``keep`` newest published sets of the run's DAG (by
    window end; each with the files beside it, see
    :data:`~dwcp_data.airflow._runs.BESIDE_PUBLISHED`) and all but its ``keep``
    newest run folders (by time, the running one among them and never
    removed). The paths removed."""
    removed = []
    for _, folder in published_sets(context["dag"].dag_id)[:-keep]:
        shutil.rmtree(folder)
        for suffix in BESIDE_PUBLISHED:
            beside(folder, suffix).unlink(missing_ok=True)
        removed.append(folder)
    current = run_dir(context)
    folders = sorted(
        (p for p in current.parent.iterdir() if p.is_dir() and not p.is_symlink()),
        key=lambda p: p.stat().st_mtime,
    )
    surplus = max(len(folders) - keep, 0)
    for folder in [p for p in folders if p != current][:surplus]:
        shutil.rmtree(folder)
        removed.append(folder)
    return removed
