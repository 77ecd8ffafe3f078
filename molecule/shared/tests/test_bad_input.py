"""Bad input fails before anything is written, with a message naming the
variable, user or path; the dotfiles on the host are byte for byte unchanged."""

import pytest

from harness import apply_role

DOTFILES = ("find /etc/passwd /etc/shadow /etc/ssh /home -xdev -type f -not -path '*/.ansible/*' -print0 | sort -z | xargs -0 sha256sum;"
            " find /home -xdev -type l -printf '%p -> %l\\n' | sort")


@pytest.mark.parametrize("extra_vars, message", [
    ('{"forwarding_probe_timeout": "soon"}', "forwarding_probe_timeout"),
    ('{"forwarding_style": "blocks"}', "forwarding_style"),
    ('{"forwarding_scope": "global"}', "forwarding_scope"),
    ('{"forwarding_users": "alice", "forwarding_tmux": "perhaps"}', "forwarding_tmux"),
    ('{"forwarding_users": ["alice", "nosuchuser"]}', "nosuchuser"),
    ("forwarding_users=nosuch", "nosuch"),
    ("forwarding_users=alice,nosuch", "nosuch"),
    ('{"forwarding_leave_alone": ["tmux", "bashrc"]}', "forwarding_leave_alone"),
    ('{"forwarding_users": ["ghost"]}', "/home/ghost"),
    ('{"forwarding_users": ["gina"]}', "/home/gina/.ssh/ssh_auth_sock"),
    ('{"forwarding_users": ["hank"]}', "/home/hank/.tmux.conf"),
    ('{"forwarding_users": ["ivy"]}', "/home/ivy/.ssh"),
    ('{"forwarding_users": ["kim"]}', "/home/kim/.ssh"),
    ('{"forwarding_users": ["lou"]}', "/home/lou/.screenrc"),
])
def test_bad_input_fails_naming_it_and_changes_nothing(target, extra_vars, message):
    before = target.root(DOTFILES)
    proc = apply_role(extra_vars)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    failure = [line for line in output.splitlines() if "fatal" in line or "msg" in line or "ERROR" in line]
    assert any(message in line for line in failure), output[-3000:]
    assert target.root(DOTFILES) == before
