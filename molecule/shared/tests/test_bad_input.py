"""Bad input fails before anything is written, with a message naming the
variable, user or path; the dotfiles on the host are byte for byte unchanged."""

import os
import subprocess
import tempfile

import pytest

DOTFILES = ("find /etc/passwd /home -xdev -type f -not -path '*/.ansible/*' -print0 | sort -z | xargs -0 sha256sum;"
            " find /home -xdev -type l -printf '%p -> %l\\n' | sort")


def apply_role(extra_vars):
    playbook = ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                "    - ansible.builtin.include_role:\n        name: happyssh.agent.forwarding\n")
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(playbook)
    try:
        proc = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], handle.name,
                               "-e", extra_vars], capture_output=True, text=True, timeout=300, check=False)
    finally:
        os.unlink(handle.name)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("extra_vars, message", [
    ('{"forwarding_probe_timeout": "soon"}', "forwarding_probe_timeout"),
    ('{"forwarding_style": "blocks"}', "forwarding_style"),
    ('{"forwarding_scope": "global"}', "forwarding_scope"),
    ('{"forwarding_users": "alice", "forwarding_tmux": "perhaps"}', "forwarding_tmux"),
    ('{"forwarding_users": ["alice", "nosuchuser"]}', "nosuchuser"),
    ('{"forwarding_users": ["ghost"]}', "/home/ghost"),
    ('{"forwarding_users": ["gina"]}', "/home/gina/.ssh/ssh_auth_sock"),
    ('{"forwarding_users": ["hank"]}', "/home/hank/.tmux.conf"),
    ('{"forwarding_users": ["ivy"]}', "/home/ivy/.ssh"),
])
def test_bad_input_fails_naming_it_and_changes_nothing(target, extra_vars, message):
    before = target.root(DOTFILES)
    returncode, output = apply_role(extra_vars)
    assert returncode != 0, output
    failure = [line for line in output.splitlines() if "fatal" in line or "msg" in line or "ERROR" in line]
    assert any(message in line for line in failure), output[-3000:]
    assert target.root(DOTFILES) == before
