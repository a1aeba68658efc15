"""``python -m missrec.data.prepare.amazon``."""

import sys

from missrec.data.prepare.amazon.cli import main

sys.exit(main())
