"""Faults, each with its expected outcome: logins keep working, the rc stays
silent and bounded, and the link ends on a live agent whenever one exists."""

import os
import signal
import time

import pytest

from harness import apply_role


def test_frozen_owner_does_not_hang_login(target, agents, figures):
    user = "tess"
    laptop, other = agents("suspended"), agents("awake")
    with target.session(user, laptop) as owner:
        os.kill(owner.proc.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            with target.session(user, other) as fresh:
                # The session is up once its rc is done: bounded by the probe
                # timeout (2 s), not by the frozen client.
                seconds = time.monotonic() - start
                figures["frozen_owner_login_s"] = round(seconds, 2)
                assert seconds < 15
                assert target.link_target(user) == fresh.sock
        finally:
            os.kill(owner.proc.pid, signal.SIGCONT)


def test_agent_killed_behind_live_connection(target, agents):
    user = "uma"
    laptop, other = agents("crashed"), agents("fine")
    with target.session(user, laptop) as owner:
        assert target.link_target(user) == owner.sock
        laptop.stop()
        with target.session(user, other) as fresh:
            assert target.link_target(user) == fresh.sock
            assert "fine" in target.keys_through_link(user)


def test_stale_lock_of_killed_rc_is_broken(target, agents):
    user = "sam"
    lock = f"/tmp/happyssh-{user}/agent.lock"
    target.root(f"install -d -o {user} -m 0700 /tmp/happyssh-{user}; rm -f {lock}; ln -s 999999 {lock}")
    with target.session(user, agents("laptop")) as session:
        assert target.link_target(user) == session.sock
    assert target.root(f"test -e {lock} -o -L {lock} && echo held || echo free").strip() == "free"


@pytest.mark.parametrize("user", ["pia", "quinn"])  # fish, tcsh
def test_non_posix_login_shell(target, agents, user):
    agent = agents("laptop")
    with target.session(user, agent) as session:
        assert target.link_target(user) == session.sock
        assert "laptop" in target.keys_through_link(user)
    assert target.run(user, "printf x", agent=agent).stdout == b"x"


def test_home_with_a_space_gets_no_user_rc(target, agents):
    # sshd runs `/bin/sh <home>/.ssh/rc` unquoted: with a space in the home, a
    # user rc cannot run and would only print errors, so the role leaves it out.
    assert target.root("test -e '/home/rita smith/.ssh/rc' && echo rc || echo none").strip() == "none"
    proc = target.run("rita", "printf x", agent=agents("laptop"))
    assert proc.stdout == b"x" and proc.stderr == b""
    assert "set-environment -g SSH_AUTH_SOCK \"/home/rita smith/.ssh/ssh_auth_sock\"" in \
        target.root("cat '/home/rita smith/.ssh/happyssh/tmux.conf'")


def test_read_only_ssh_directory(target, agents):
    user = "nico"
    target.root(f"rm -f ~{user}/.ssh/ssh_auth_sock*; chmod 555 ~{user}/.ssh")
    try:
        proc = target.run(user, "printf x", agent=agents("laptop"))
        assert proc.stdout == b"x"
        assert proc.stderr == b""
        listing = target.root(f"ls -A ~{user}/.ssh").split()
        assert sorted(listing) == ["happyssh", "rc"], listing
    finally:
        target.root(f"chmod 700 ~{user}/.ssh")


def test_full_home(target, agents):
    """xena's home is a 512 KiB tmpfs (molecule.yml), filled up here. Logins still work and
    stay silent, the link is repointed (a short symlink needs no data block), the state file
    that cannot be written is dropped rather than left half written or stale, and the first
    login once there is room again writes it anew. (A home without free inodes cannot be made
    here, podman has no nr_inodes; it fails every creation like the read-only ~/.ssh above.)"""
    user, home = "xena", "/home/xena"
    with target.session(user, agents("monday")) as first:
        old = first.sock
    # Once its sshd has gone, the link leads to a dead socket.
    assert target.root(f"for i in $(seq 50); do [ -d /proc/{first.sshd_pid} ] || break; sleep 0.2; done;"
                       f" [ -d /proc/{first.sshd_pid} ] && echo alive || echo gone").strip() == "gone"
    assert target.link_target(user) == old

    def fill_up():
        # Each fill takes whatever the last login freed (a removed state file frees a page).
        target.root(f"dd if=/dev/zero of=$(mktemp -u {home}/filler.XXXXXX) bs=4k 2>/dev/null; true")
        assert "No space left" in target.root(f"echo x 2>&1 >{home}/.ssh/probe; rm -f {home}/.ssh/probe")

    def listing():
        return sorted(set(target.root(f"ls -A {home}/.ssh").split()) - {"agent"})

    try:
        fill_up()
        proc = target.run(user, "printf x", agent=agents("tuesday"))  # rsync, git, Ansible
        assert proc.stdout == b"x" and proc.stderr == b""
        assert target.link_target(user) != old
        assert listing() == ["happyssh", "rc", "ssh_auth_sock"], listing()
        fill_up()
        with target.session(user, agents("wednesday")) as fresh:
            assert target.link_target(user) == fresh.sock
            assert "wednesday" in target.keys_through_link(user)
            assert listing() == ["happyssh", "rc", "ssh_auth_sock"], listing()
    finally:
        target.root(f"rm -f {home}/filler.*")
    with target.session(user, agents("thursday")) as later:
        assert target.link_target(user) == later.sock
        assert target.root(f"cat /tmp/happyssh-{user}/agent.owner").split() == ["tty", later.sock]


def test_system_scope_and_missing_ssh_directory(target, agents):
    proc = apply_role('{"forwarding_scope": "system"}')
    assert proc.returncode == 0, proc.stdout[-3000:]
    # The role names the homes whose own ~/.ssh/rc makes sshd skip /etc/ssh/sshrc.
    assert "/home/lena" in proc.stdout and "sshrc" in proc.stdout
    try:
        agent = agents("laptop")
        # wendy has ~/.ssh but no rc of her own: /etc/ssh/sshrc keeps her link.
        with target.session("wendy", agent) as session:
            assert target.link_target("wendy") == session.sock
        # rita's home has a space: /etc/ssh/sshrc (no user rc) keeps her link.
        with target.session("rita", agent) as session:
            assert target.root("readlink -f '/home/rita smith/.ssh/ssh_auth_sock'").strip() == session.sock
            assert "laptop" in target.keys_through_link("rita")
        # olga has no ~/.ssh at all: the login works and stays silent.
        proc = target.run("olga", "printf x", agent=agent)
        assert proc.stdout == b"x" and proc.stderr == b""
        assert target.root("test -e ~olga/.ssh && echo made || echo none").strip() == "none"
    finally:
        target.root("rm -f /etc/ssh/sshrc /etc/tmux.conf /etc/screenrc; rm -rf /usr/local/lib/happyssh /etc/happyssh")
