"""``python -m treestore``: see ``treestore.cli``."""

import sys

from .cli import main

sys.exit(main())
