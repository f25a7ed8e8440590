"""Data sets larger than memory (see :mod:`dwcp_data.datasets`): the stages and
the data-set class where they have always been importable from."""

from __future__ import annotations

from dwcp_data.datasets import *  # noqa: F403  # the same public names
from dwcp_data.datasets import __all__ as __all__
