"""``python -m tlsapi``: the ``tlsapi`` command."""

import sys

from .cli import main

sys.exit(main())
