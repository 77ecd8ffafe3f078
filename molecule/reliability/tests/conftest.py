"""Fixtures of the reliability tests (the harness is the default scenario's),
and the figures file they fill."""

import json
import os

import pytest

from harness import agents, target  # noqa: F401 pylint: disable=unused-import

RESULTS = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), ".cache", "reliability")


@pytest.fixture(scope="session")
def figures():
    """Figures the tests measure; written for tests/reliability/publish."""
    collected = {}
    yield collected
    os.makedirs(RESULTS, exist_ok=True)
    suite = os.environ.get("MOLECULE_SUITE", "bookworm")
    with open(os.path.join(RESULTS, f"{suite}.json"), "w", encoding="utf-8") as handle:
        json.dump(collected, handle, indent=2, sort_keys=True)
