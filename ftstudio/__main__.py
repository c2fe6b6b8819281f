"""``python -m ftstudio`` runs the command line (no arguments: open the studio)."""

import sys

from ftstudio.cli import main

sys.exit(main())
