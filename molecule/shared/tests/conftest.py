"""Fixtures of the default scenario's tests."""

from harness import agents, target  # noqa: F401  pylint: disable=unused-import
