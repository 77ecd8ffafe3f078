"""Fixtures of the shared-home tests: the two hosts of the Molecule inventory
(hosta = A, hostb = B, by their happyssh_shared_home_host variable), and the
harness's agents (the default scenario's harness)."""

import os

import pytest
import testinfra.utils.ansible_runner

from harness import agents  # noqa: F401 pylint: disable=unused-import
from two_hosts import Host


@pytest.fixture(scope="session")
def hosts():
    """{"A": Host, "B": Host}"""
    runner = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
    found = {}
    for name in runner.get_hosts("all"):
        hostvars = runner.get_variables(name)
        label = hostvars.get("happyssh_shared_home_host")
        if label:
            found[label] = Host(name, label, hostvars.get("ansible_host", "127.0.0.1"), hostvars["ansible_port"])
    assert sorted(found) == ["A", "B"], found
    for host in found.values():
        host.reset()
    return found


@pytest.fixture(autouse=True)
def clean_hosts(hosts):
    """Each test ends with no tmux server of the test users left on either host."""
    yield
    for host in hosts.values():
        host.reset()
