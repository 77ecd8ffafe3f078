"""The role against a hardened sshd: each sshd setting that defeats the story is named with its file,
line and the setting that would make it work, with root (sshd -T -C per account) and without (the
config files read as the account), shown once per run; forwarding_x11: false silences the X11 one."""

import json
import re

import pytest

from harness import apply_role

CONFIG = "/etc/ssh/sshd_config"
ROLE_HINT = "set by the host's hardening role devsec.hardening.ssh_hardening?"
PERMISSIVE = ("X11Forwarding yes\nAllowAgentForwarding yes\nMatch User bob\n"
              "    AllowAgentForwarding no\n")


def line_of(target, text, path=CONFIG):
    """The number of the line of path that starts with text, as grep -n sees it on the host."""
    out = target.root(f"grep -n '^ *{text}' {path} | head -n 1").strip()
    assert out, f"{text} not in {path}"
    return int(out.split(":", 1)[0])


def run(*extra, user=None, check="fail"):
    values = {"forwarding_sshd_check": check}
    for item in extra:
        values.update(item)
    if user:
        values.update(ansible_user=user, forwarding_users=[user])
    return apply_role(json.dumps(values))


def failure(proc):
    """What a failed run said: ansible-core 2.19 puts the task's message on stderr as well as stdout."""
    assert proc.returncode != 0, proc.stdout
    return proc.stdout + proc.stderr


@pytest.fixture
def permissive(target):
    """A permissive sshd_config with one Match User block, the hardened one put back afterwards."""
    target.root(f"cp -p {CONFIG} {CONFIG}.hardened && printf '{PERMISSIVE}' > {CONFIG}"
                f" && /usr/sbin/sshd -t -f {CONFIG}")
    yield
    target.root(f"mv {CONFIG}.hardened {CONFIG}")


def test_the_hardened_sshd_really_forwards_no_agent(target, agents):
    # What the warnings are about: the running sshd gives a login no agent.
    agent = agents("laptop")
    out = target.run("alice", 'echo "[$SSH_AUTH_SOCK]"', agent=agent).stdout.decode()
    assert out.strip() == "[]"


def test_unprivileged_run_fails_naming_file_line_and_fix(target):
    proc = run(user="alice")
    line = line_of(target, "AllowAgentForwarding no")
    said = failure(proc)
    assert (f"AllowAgentForwarding no ({CONFIG}:{line}, {ROLE_HINT} (its variable ssh_allow_agent_forwarding:"
            " true)): there is no forwarded agent to keep; set AllowAgentForwarding yes for alice"
            " (best-effort reading of the config files, without root)") in said


def test_unprivileged_run_names_the_file_it_cannot_read(target):
    proc = run(user="alice", check="warn")
    assert proc.returncode == 0, proc.stdout
    assert ("sshd settings in /etc/ssh/sshd_config.d/10-site.conf could not be read (Permission denied)"
            in proc.stdout)


def test_privileged_warn_shows_each_warning_once_for_all_accounts(target):
    proc = run({"forwarding_users": ["alice", "bob", "carol"]}, check="warn")
    assert proc.returncode == 0, proc.stdout
    agent_line = line_of(target, "AllowAgentForwarding no")
    x11_line = line_of(target, "X11Forwarding no")
    warning = (f"AllowAgentForwarding no ({CONFIG}:{agent_line}, {ROLE_HINT} (its variable"
               " ssh_allow_agent_forwarding: true)): there is no forwarded agent to keep; set AllowAgentForwarding"
               " yes for alice, bob, carol")
    assert proc.stdout.count(warning) == 1, proc.stdout
    assert proc.stdout.count(f"X11Forwarding no ({CONFIG}:{x11_line}") == 1, proc.stdout
    assert "best-effort" not in proc.stdout
    assert "could not be read" not in proc.stdout


def test_forwarding_x11_false_silences_the_x11_warning(target):
    for extra in ({"forwarding_x11": False}, {"forwarding_rc": False}):
        proc = run({"forwarding_users": ["alice"]}, extra, check="warn")
        assert proc.returncode == 0, proc.stdout
        assert "X11Forwarding" not in proc.stdout, (extra, proc.stdout)
        assert "AllowAgentForwarding no (" in proc.stdout


@pytest.mark.usefixtures("permissive")
def test_match_user_block_is_seen_with_root(target):
    proc = run({"forwarding_users": ["alice", "bob"]})
    line = line_of(target, "AllowAgentForwarding no")
    said = failure(proc)
    assert (f"AllowAgentForwarding no ({CONFIG}:{line}): there is no forwarded agent to keep;"
            " set AllowAgentForwarding yes for bob") in said
    assert "for alice" not in said and "alice, bob" not in said
    assert "best-effort" not in said, "as root the reading is sshd -T -C's"


@pytest.mark.usefixtures("permissive")
def test_match_user_block_is_seen_without_root(target):
    proc = run(user="bob")
    line = line_of(target, "AllowAgentForwarding no")
    said = failure(proc)
    assert re.search(rf"AllowAgentForwarding no \({CONFIG}:{line}\): .* for bob \(best-effort", said)
    assert run(user="alice").returncode == 0


def test_nothing_readable_is_said_once(target):
    target.root(f"chmod 0600 {CONFIG}")
    try:
        proc = run(user="alice", check="warn")
    finally:
        target.root(f"chmod 0644 {CONFIG}")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.count("no sshd setting could be read") == 1, proc.stdout
