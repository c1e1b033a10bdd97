"""``python -m blockgate.static``: see ``blockgate.static``."""

import sys

from blockgate.static.cli import main

sys.exit(main())
