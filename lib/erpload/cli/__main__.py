"""`python -m erpload.cli ...`: the same as the `erpload` console script."""

import sys

from erpload.cli import main

sys.exit(main())
