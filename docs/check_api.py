"""Checks that the built site's API reference documents every public name of ``dwcp_data``.

Usage: python docs/check_api.py SITE_DIR   (after ``mkdocs build -d SITE_DIR``)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import dwcp_data


def documented(site: Path) -> set[str]:
    """The object ids the API reference pages hold (``dwcp_data.clean``, ...)."""
    ids: set[str] = set()
    for page in (site / "reference").rglob("*.html"):
        ids |= set(re.findall(r'id="(dwcp_data(?:\.[A-Za-z_0-9]+)+)"', page.read_text()))
    return ids


def main() -> int:
    ids = documented(Path(sys.argv[1]))
    missing = []
    for name in dwcp_data.__all__:
        obj = getattr(dwcp_data, name)
        # a function re-exported from a submodule may be documented where it is defined
        home = f"{getattr(obj, '__module__', '')}.{name}"
        if f"dwcp_data.{name}" not in ids and home not in ids:
            missing.append(name)
    if missing:
        print(f"check_api: not in the API reference: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"check_api: all {len(dwcp_data.__all__)} public names of dwcp_data are documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
