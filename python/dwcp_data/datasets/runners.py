"""The runner of an engine for one run of a stage (see :mod:`dwcp_data.engines`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from dwcp_data._outputs import work_folder
from dwcp_data.datasets.engine import Runner
from dwcp_data.datasets.local import LocalRunner
from dwcp_data.engines import LocalEngine, engine_of

__all__ = ["engine_for"]


@contextlib.contextmanager
def engine_for(
    engine: object, work_dir: str | os.PathLike[str] | None = None, show_progress: bool | None = None
) -> Iterator[Runner]:
    """The runner of ``engine`` (a name or an engine object, see
    :mod:`dwcp_data.engines`) for one run, with a work folder of its own in
    ``work_dir`` (default: the system's temporary folder), removed afterwards.
    The Ray engine needs the extra ``dwcp-data[ray]``.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an unknown engine.
    """
    config = engine_of(engine)
    with work_folder(config.name, work_dir) as work:
        if isinstance(config, LocalEngine):
            yield LocalRunner(work, show_progress)
        else:
            from dwcp_data.datasets.ray import RayRunner  # the one place the optional Ray backend is imported

            yield RayRunner(work, show_progress, config)
