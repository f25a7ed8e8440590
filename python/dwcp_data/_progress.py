"""A dependency-free progress bar on standard error."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

T = TypeVar("T")


def progress(
    items: Iterable[T], label: str, *, enabled: bool | None = None, min_items: int = 2
) -> Iterator[T]:
    """Yield ``items``, drawing ``label [####    ] 3/8 2.1s`` on stderr as they pass.

    ``enabled=None`` draws only into a terminal and only for at least
    ``min_items`` items (work that takes more than a moment).
    """
    total = len(items) if isinstance(items, Sized) else None
    if enabled is None:
        enabled = sys.stderr.isatty() and (total is None or total >= min_items)
    if not enabled:
        yield from items
        return
    started = time.perf_counter()
    done = 0

    def draw() -> None:
        width = 30
        filled = width * done // total if total else 0
        count = f"{done}/{total}" if total else f"{done}"
        bar = f"[{'#' * filled}{' ' * (width - filled)}] " if total else ""
        sys.stderr.write(f"\r{label} {bar}{count} {time.perf_counter() - started:.1f}s")
        sys.stderr.flush()

    draw()
    try:
        for item in items:
            yield item
            done += 1
            draw()
    finally:  # a pass that stops part way (an error, Ctrl-C) still ends its line
        sys.stderr.write("\n")
        sys.stderr.flush()
