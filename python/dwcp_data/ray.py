"""The Ray engine's public helpers (extra ``dwcp-data[ray]``); the engine itself
is :mod:`dwcp_data.datasets.ray`, chosen with ``engine="ray"`` or
:class:`dwcp_data.RayEngine`."""

from __future__ import annotations

from dwcp_data.datasets.ray import RayRunner, RaySource, connect, label, source_of

__all__ = ["RayRunner", "RaySource", "connect", "label", "source_of"]
