"""Fixtures of the hardened-host tests (the harness is the default scenario's)."""

from harness import agents, target  # noqa: F401 pylint: disable=unused-import
