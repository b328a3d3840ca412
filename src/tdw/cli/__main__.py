"""``python -m tdw.cli``."""

import sys

from tdw.cli.main import main

sys.exit(main())
