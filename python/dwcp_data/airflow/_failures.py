"""Which failures a retry can fix: a task fails at once on the others.

Retrying a task whose landing folder is empty, whose shard is corrupt, whose
connection or package is missing or whose arguments are wrong only delays the
alert by the retry delays. Network and server errors, and a full disk, keep
their retries: they pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from dwcp_data.errors import DwcpDataError, InfluxError, StorageError

__all__ = ["RETRIED_INFLUX_KINDS", "fail_fast", "is_permanent"]

#: The kinds of :class:`~dwcp_data.errors.InfluxError` that a later try may not meet.
RETRIED_INFLUX_KINDS = frozenset({"unreachable", "timeout", "server", "incomplete"})


def is_permanent(error: BaseException) -> bool:
    """Whether trying the task again cannot help: bad data, arguments or
    configuration, refused credentials, an unknown database, a missing
    connection, variable or package."""
    if isinstance(error, InfluxError):
        return error.kind not in RETRIED_INFLUX_KINDS
    if isinstance(error, StorageError):
        return False  # room may be made before the next try
    return isinstance(error, (DwcpDataError, AirflowNotFoundException, ImportError))


def fail_fast(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step`` raising ``AirflowFailException`` (no retry) from a permanent
    error (:func:`is_permanent`), naming it; other errors pass unchanged."""

    @functools.wraps(step)
    def run(**context: Any) -> Any:
        try:
            return step(**context)
        except AirflowFailException:
            raise
        except Exception as exc:
            if not is_permanent(exc):
                raise
            raise AirflowFailException(
                f"{type(exc).__name__}: {exc} (not retried: trying again cannot fix this)"
            ) from exc

    return run
