"""``python -m siteplane``."""

import sys

from siteplane.cli import main

sys.exit(main())
