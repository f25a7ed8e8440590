"""Helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

#: A fixed end timestamp: generated frames are reproducible to the bit.
END = datetime(2025, 11, 14, 12, 34, 56, tzinfo=timezone.utc)


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout (fails the test on error)."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def raise_data_error(row: int) -> None:
    """Raise a ``DataError`` for ``row`` (importable by a spawned worker process)."""
    from dwcp_data.errors import DataError

    raise DataError(f"row {row} is bad", column="rtt_ms", row=row, rule="rtt_ms_range")


def shard_validation_facts(file: str) -> object:
    """One shard's strict validation facts (importable by a spawned worker process)."""
    import dwcp_data
    from dwcp_data._frames import to_core

    core_frame, enums = to_core(dwcp_data.read_training_data(file))
    return dwcp_data._core.validation_facts(
        core_frame, enums, "strict", 100, 0.1, 0.05, 1_700_000_000_000_000, 5
    )
