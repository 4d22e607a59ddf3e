"""``python -m galmass.cli ...`` runs the ``galmass`` command line."""

import sys

from galmass.cli import main

sys.exit(main())
