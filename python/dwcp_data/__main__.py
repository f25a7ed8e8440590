"""``python -m dwcp_data``: the ``dwcp-data`` command."""

import sys

from dwcp_data.cli import main

sys.exit(main())
