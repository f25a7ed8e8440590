"""Where the data-set stages run, as objects with their settings.

Every stage over a data set (:func:`~dwcp_data.validate_dataset`,
:func:`~dwcp_data.clean_dataset`, :func:`~dwcp_data.label_dataset`,
:func:`~dwcp_data.quality_metrics`, :func:`~dwcp_data.run_pipeline`) takes
``engine=``, as polars' ``collect(engine=...)`` takes a name or a
``GPUEngine``:

* ``"local"`` or :class:`LocalEngine`: this process, a block after another;
* ``"ray"`` or :class:`RayEngine` (extra ``dwcp-data[ray]``): a Ray task per
  block and pass; ``RayEngine(address=..., num_cpus=..., ...)`` says which
  cluster to join, or how to start a local one.

The answers are the same on every engine. This module does not import Ray.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from dwcp_data.errors import InvalidArgumentError

__all__ = ["ENGINES", "EngineLike", "EngineName", "LocalEngine", "RayEngine", "engine_of"]

#: The engines' names.
EngineName = Literal["local", "ray"]
ENGINES: tuple[EngineName, ...] = ("local", "ray")


@dataclass(frozen=True)
class LocalEngine:
    """Blocks read and processed in this process, one after the other, with
    the work files (duplicate search, block state) in the stage's ``work_dir``."""

    #: The engine's name, as ``engine="local"`` gives it.
    name: ClassVar[Literal["local"]] = "local"


@dataclass(frozen=True)
class RayEngine:
    """A Ray task per block and pass (extra ``dwcp-data[ray]``; see
    :mod:`dwcp_data.ray` for what scales and how).

    When this process is not connected to Ray yet, a stage connects with
    ``ray.init(address=address, num_cpus=num_cpus, runtime_env=runtime_env,
    namespace=namespace)``; when it is, the settings must be left unset (a
    connection cannot be changed mid-process: ``ray.shutdown()`` first).

    Attributes:
        address: the cluster (``"auto"``, ``"ray://head:10001"``, ...); ``None``:
            the ``RAY_ADDRESS`` environment variable, else a local Ray.
        num_cpus: CPUs of a local Ray started here (``None``: all).
        runtime_env: Ray's runtime environment for the tasks (``pip``, ``env_vars``, ...).
        namespace: the Ray namespace to join.
    """

    address: str | None = None
    num_cpus: int | None = None
    runtime_env: Mapping[str, Any] | None = field(default=None, hash=False, repr=False)  # may hold secrets
    namespace: str | None = None

    #: The engine's name, as ``engine="ray"`` gives it.
    name: ClassVar[Literal["ray"]] = "ray"

    def __post_init__(self) -> None:
        if self.num_cpus is not None and (
            isinstance(self.num_cpus, bool) or not isinstance(self.num_cpus, int) or self.num_cpus < 1
        ):
            raise InvalidArgumentError.of("num_cpus", f"must be a positive integer, got {self.num_cpus!r}")
        for name in ("address", "namespace"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidArgumentError.of(name, f"must be a string or None, got {type(value).__name__}")

    def init_arguments(self) -> dict[str, Any]:
        """The ``ray.init`` keyword arguments that were set."""
        given = {
            "address": self.address,
            "num_cpus": self.num_cpus,
            "runtime_env": dict(self.runtime_env) if self.runtime_env is not None else None,
            "namespace": self.namespace,
        }
        return {k: v for k, v in given.items() if v is not None}


#: What ``engine=`` takes: a name or an engine object.
EngineLike = EngineName | LocalEngine | RayEngine


def engine_of(engine: object) -> LocalEngine | RayEngine:
    """The engine object ``engine`` names (``"local"``, ``"ray"``) or is.

    Raises:
        dwcp_data.errors.InvalidArgumentError: anything else.
    """
    if isinstance(engine, (LocalEngine, RayEngine)):
        return engine
    if engine == "local":
        return LocalEngine()
    if engine == "ray":
        return RayEngine()
    raise InvalidArgumentError.of(
        "engine", f"must be 'local', 'ray', LocalEngine() or RayEngine(...), got {engine!r}"
    )
