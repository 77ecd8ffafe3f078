"""Fixtures of the hardened-host tests (the harness is the default scenario's)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tests"))

from harness import agents, target  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
