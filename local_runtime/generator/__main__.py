"""``python -m local_runtime.generator`` (see :mod:`local_runtime.generator.cli`)."""

import sys

from local_runtime.generator.cli import main

sys.exit(main())
