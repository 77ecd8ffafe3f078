"""`happyssh status` and `repair` from the host, against a real sshd, real forwarded agents and
real tmux, in each state the command reports (the hop loop is covered by tests/unit/roles/forwarding/files/test_happyssh_status.py)."""

import os
import signal
import time

from test_story import wait_for

USER = "alice"
STATUS = "sh ~/.ssh/happyssh/happyssh"
LINK = 'SSH_AUTH_SOCK="$HOME/.ssh/ssh_auth_sock"'


def status(target, sub="status", sock=LINK, prefix=""):
    """Run the command as a user at a pane would, in a connection without an agent of its own."""
    started = time.monotonic()
    proc = target.run(USER, f"{prefix}{sock} {STATUS} {sub}", check=False)
    proc.elapsed = time.monotonic() - started
    proc.text = proc.stdout.decode() + proc.stderr.decode()
    # The outputs of the last run, for the README's examples.
    with open("/tmp/happyssh-status-examples.txt", "a") as log:
        log.write(f"$ {sub} ({sock})\n{proc.text}exit {proc.returncode}\n\n")
    return proc


def todo(proc):
    return [line for line in proc.text.splitlines() if line.startswith("to do:")][0]


def test_alive_frozen_dead_and_repair(target, agents):
    laptop_a, laptop_b = agents("laptop-A"), agents("laptop-B")
    with target.session(USER, laptop_a) as first:
        assert wait_for(lambda: target.link_target(USER) == first.sock)
        working = status(target)
        assert working.returncode == 0, working.text
        assert "(the link)" in working.text and "recorded tty, now tty" in working.text
        assert "answers, 1 key(s)" in working.text
        assert "laptop-A" not in working.text  # a count, never the keys
        # Frozen: the laptop's ssh stops reading; its sshd still runs.
        os.kill(first.proc.pid, signal.SIGSTOP)
        try:
            frozen = status(target)
        finally:
            os.kill(first.proc.pid, signal.SIGCONT)
        assert frozen.returncode != 0, frozen.text
        assert "does not answer within 2s" in frozen.text
        assert "does not answer: wake it" in todo(frozen)
        # Two bounded probes (owner, and it again as a candidate), plus the connection.
        assert frozen.elapsed < 10, frozen.elapsed
        with target.session(USER, laptop_b, tty=False) as second:
            assert target.link_target(USER) == first.sock
            target.root(f"kill -9 {first.sshd_pid}")
            dead = status(target)
            assert dead.returncode != 0, dead.text
            assert "is gone" in dead.text and "stale: its sshd is gone" in dead.text
            assert "happyssh repair" in todo(dead)
            repaired = status(target, "repair")
            assert repaired.returncode == 0, repaired.text
            assert target.link_target(USER) == second.sock
            assert "laptop-B" in target.keys_through_link(USER)
            assert status(target).returncode == 0

    def no_agent():  # no agent left at all
        proc = status(target)
        return proc if "no forwarded agent" in proc.text else None

    none = wait_for(no_agent)
    assert none and none.returncode != 0, none and none.text


def test_pane_older_than_the_role(target, agents):
    laptop = agents("laptop-C")
    with target.session(USER, laptop):
        old = status(target, sock="SSH_AUTH_SOCK=/tmp/ssh-gone0000/agent.1")
        assert old.returncode != 0, old.text
        assert "(not the link" in old.text
        assert "export SSH_AUTH_SOCK=" in todo(old)


def test_tmux_still_copying_ssh_auth_sock(target, agents):
    laptop = agents("laptop-D")
    with target.session(USER, laptop):
        # A server without the role's tmux.conf: tmux's default update-environment has SSH_AUTH_SOCK.
        server = "tmux -L st -f /dev/null"
        target.run(USER, f"{server} kill-server 2>/dev/null; {server} new-session -d -s st", check=False)
        try:
            proc = status(target, prefix=f"TMUX=$({server} display-message -p '#{{socket_path}}'),0,0 ")
        finally:
            target.run(USER, f"{server} kill-server", check=False)
        assert proc.returncode == 0, proc.text
        assert "update-environment" in proc.text and "SSH_AUTH_SOCK" in proc.text
        assert "remove it from update-environment" in todo(proc)
