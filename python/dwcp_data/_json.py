"""Strict JSON for reports, manifests and the CLI: no bare ``NaN`` or ``Infinity``."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "plain"]


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: every NaN or infinite float replaced by
    ``None`` and tuples made lists, in nested dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON that strict parsers read: NaN and infinities become
    ``null`` (as JavaScript's ``JSON.stringify`` writes them), and other
    values JSON lacks (datetimes, paths) their text."""
    return json.dumps(plain(value), indent=indent, default=str, allow_nan=False)
