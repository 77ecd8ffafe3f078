"""The role on hosts that share the home: applied host after host, in either
order, it finds its work done (Molecule's own converge and idempotence steps
apply it to both hosts at once), and each shared dotfile reads the
collection's files through one include line, never two."""

import os
import shlex

import pytest

from harness import run_playbook

import homes  # pylint: disable=import-error

CONVERGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "converge.yml")
USERS = ("alice", "bob")
# Dotfile(s) of each part: tmux reads both of its files, the line belongs in one.
DOTFILES = {
    "rc": [".ssh/rc"],
    "tmux": [".tmux.conf", ".config/tmux/tmux.conf"],
    "screen": [".screenrc"],
}


def recaps(proc):
    """{host: {"ok": N, "changed": N, ...}} from an ansible-playbook run's play recap."""
    found = {}
    for line in proc.stdout.splitlines():
        if " : ok=" in line:
            name, counters = line.split(" : ", 1)
            found[name.strip()] = {key: int(value) for key, value in (item.split("=") for item in counters.split())}
    return found


def include_counts(host, user):
    """How often each part's include line is in the user's dotfiles, read on host."""
    counts = {}
    for part, files in DOTFILES.items():
        line = shlex.quote(homes.include_line(part))
        total = 0
        for name in files:
            path = shlex.quote(f"/home/{user}/{name}")
            total += int(host.root(f"if test -f {path}; then grep -c -x -F -- {line} {path} || true; else echo 0; fi"))
        counts[part] = total
    return counts


def assert_one_line_each(hosts):
    for host in hosts.values():
        for user in USERS:
            assert include_counts(host, user) == {part: 1 for part in DOTFILES}, (host, user)


def test_concurrent_converge_left_one_line_each(hosts):
    assert_one_line_each(hosts)


@pytest.mark.parametrize("order", [("A", "B"), ("B", "A")], ids=["A-then-B", "B-then-A"])
def test_role_host_after_host_changes_nothing(hosts, order):
    for label in order:
        host = hosts[label]
        proc = run_playbook(CONVERGE, options=["--limit", host.name])
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        counters = recaps(proc)
        assert list(counters) == [host.name], proc.stdout[-2000:]
        assert counters[host.name]["changed"] == 0, f"{label}: {proc.stdout[-4000:]}"
        assert counters[host.name]["failed"] == 0
    assert_one_line_each(hosts)
