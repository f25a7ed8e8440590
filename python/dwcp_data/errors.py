"""Exceptions raised by :mod:`dwcp_data`.

Every exception is a :class:`DwcpDataError`. Those about the caller's input or
a server (arguments, data, files, validation, InfluxDB) are also
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do
not know this package; an :class:`InternalError` (a bug in dwcp_data) is a
:class:`RuntimeError` instead, so that it is never taken for bad input, and an
:class:`InsufficientMemoryError` (a request larger than the machine) is a
:class:`MemoryError`.
"""

from __future__ import annotations

__all__ = [
    "CsvError",
    "DataError",
    "DwcpDataError",
    "IncompatiblePolarsError",
    "InfluxError",
    "InsufficientMemoryError",
    "InternalError",
    "InvalidArgumentError",
    "StorageError",
    "ValidationError",
]


class DwcpDataError(Exception):
    """Base class of every error raised by ``dwcp_data``.

    Every subclass survives pickling with its message and attributes (process
    pools and Airflow executors pickle exceptions), although their
    constructors take keyword-only arguments.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[DwcpDataError], args: tuple[object, ...], state: dict[str, object]) -> DwcpDataError:
    """An exception of ``cls`` with ``args`` and attributes ``state``, without calling its ``__init__``."""
    # Exception.__new__ sets args; cls.__new__ would be MemoryError's for
    # InsufficientMemoryError, which refuses a subclass whose layout comes from
    # Exception. An OSError subclass has OSError's layout, so OSError.__new__.
    error: DwcpDataError
    if issubclass(cls, OSError):  # OSError leaves args to __init__ in a subclass that has one
        error = OSError.__new__(cls, *args)
        OSError.__init__(error, *args)
    else:
        error = Exception.__new__(cls, *args)
    for name, value in state.items():
        setattr(error, name, value)  # OSError.errno is a slot, not in __dict__
    return error


class InvalidArgumentError(DwcpDataError, ValueError):
    """An argument is outside its domain. ``param`` names the parameter."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param

    @classmethod
    def of(cls, param: str, message: str) -> InvalidArgumentError:
        """The error for parameter ``param``: "invalid argument `param`: ``message``"."""
        return cls(f"invalid argument `{param}`: {message}", param=param)


class DataError(DwcpDataError, ValueError):
    """A value in the data breaks a rule.

    Attributes:
        column: the offending column.
        row: the 0-based row to blame, or ``None`` when no single row is.
        rule: the identifier of the broken rule.
    """

    def __init__(self, message: str, *, column: str, row: int | None, rule: str) -> None:
        super().__init__(message)
        self.column = column
        self.row = row
        self.rule = rule


class CsvError(DataError):
    """A line of a CSV file does not fit the schema.

    Attributes:
        path: the file.
        line: the 1-based line number (the header is line 1).
        column: the field to blame, or ``""`` when the whole line is malformed.
    """

    def __init__(self, message: str, *, path: str, line: int, column: str, rule: str = "csv_line") -> None:
        super().__init__(message, column=column, row=None, rule=rule)
        self.path = path
        self.line = line


class ValidationError(DwcpDataError, ValueError):
    """A data set failed validation. ``report`` is the full :class:`~dwcp_data.ValidationReport`."""

    def __init__(self, message: str, *, report: object) -> None:
        super().__init__(message)
        self.report = report


class InsufficientMemoryError(DwcpDataError, MemoryError):
    """A stage would need more memory than this process could ever hold: the
    machine's RAM plus swap, or its container's lower limit. It is refused
    before anything is allocated, instead of the kernel killing the process
    part way through. The message says what to do instead (work in shards).

    Attributes:
        needed: bytes the stage would allocate.
        limit: the most memory the process could hold, in bytes.
    """

    def __init__(self, message: str, *, needed: int, limit: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.limit = limit


class StorageError(DwcpDataError, OSError):
    """Writing an output or work file failed for want of room or rights to
    grow it: the device is full (``ENOSPC``), a quota or file-size limit was
    reached (``EDQUOT``, ``EFBIG``), or the file system is read-only
    (``EROFS``). Nothing was published; the message names the file and what to
    do (free space, or choose another folder or ``work_dir``).

    Attributes:
        path: the file (or work folder) being written.
        errno: the system's error number.
    """

    def __init__(self, message: str, *, path: str, errno: int) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, {**self.__dict__, "errno": self.errno}))


class InternalError(DwcpDataError, RuntimeError):
    """A bug inside ``dwcp_data`` (a Rust panic, caught before it reached Python)."""


class IncompatiblePolarsError(ImportError):
    """The installed ``polars`` is outside the range this build was tested with."""


class InfluxError(DwcpDataError, ValueError):
    """An InfluxDB request failed. ``url`` is the server (never with credentials).

    ``kind`` says why: ``"unreachable"``, ``"timeout"`` (no complete answer
    within the timeout), ``"auth"`` (401/403), ``"database"`` (unknown
    database, retention policy, bucket or organisation), ``"query"`` (the
    server's query engine refused or failed the query: never retried),
    ``"incomplete"`` (a response that could not be made complete), ``"partial"`` (the server stored only part of a write: some
    points broke one of its limits; ``dropped`` is how many it says it
    dropped), or ``"server"`` (any other error answer, or an answer that is
    not InfluxDB's). ``report``: for a write, the :class:`~dwcp_data.influx.WriteReport`
    of what landed before the failure, else ``None``.
    """

    def __init__(
        self, message: str, *, url: str, kind: str, report: object = None, dropped: int | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.kind = kind
        self.report = report
        self.dropped = dropped
