"""`python -m chaosmonkey` is the `chaosmonkey` command."""

import sys

from chaosmonkey.cli import main

sys.exit(main())
