"""Shared fixtures. The tests run against the installed ``dwcp_data`` wheel."""

from __future__ import annotations

from datetime import datetime

import pytest

from helpers import END


@pytest.fixture(scope="session")
def end() -> datetime:
    return END
