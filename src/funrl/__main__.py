"""`python -m funrl <command>`: same as the `funrl` console script."""

import sys

from funrl.cli import main

sys.exit(main())
