"""Real sessions beyond the laptop story: long-lived connections without a terminal (editors,
tunnels), and `ssh -A` hops from a tmux pane back into the same host, which must never make
the link point into a loop. Real sshd, real ssh clients, real tmux panes on real ptys."""

import time

import pytest

from test_story import wait_for

HOP_USER = "hugo"


def test_editor_connection_keeps_the_agent_when_the_laptop_dies(target, agents):
    """Laptop C (interactive) owns the link; editor D (ssh -A, no tty, like VS Code Remote-SSH)
    stays open; C's sshd is killed; one short connection arrives: the link goes to D."""
    user = "edie"
    laptop, editor_agent, short = agents("laptop"), agents("editor"), agents("short")
    laptop_session = target.session(user, laptop)
    with target.session(user, editor_agent, tty=False) as editor:
        assert target.link_target(user) == laptop_session.sock
        target.root(f"kill -9 {laptop_session.sshd_pid}")
        laptop_session.close()
        target.run(user, "true", agent=short)
        assert target.link_target(user) == editor.sock
        assert "editor" in target.keys_through_link(user)
        # A tunnel (ssh -N) runs no rc and changes nothing; the editor keeps the link.
        target.run(user, "true", agent=short)
        assert target.link_target(user) == editor.sock


class Pane:
    """A tmux pane of HOP_USER on the host: type into it, read what its commands wrote."""

    def __init__(self, target, name):
        self.target, self.name = target, name
        self.n = 0

    def type(self, keys):
        self.target.run(HOP_USER, f"tmux send-keys -t {self.name} {keys!r} Enter")

    def ask(self, command, timeout=15.0):
        """Run command in whatever shell the pane shows now (the hop's, once logged in); its
        output, or None when it never finished (a frozen terminal)."""
        self.n += 1
        out = f"/tmp/{self.name}-{self.n}"
        self.type(f"{{ {command}; }} >{out}.tmp 2>&1; mv {out}.tmp {out}")

        def answer():
            proc = self.target.run(HOP_USER, f"cat {out} 2>/dev/null", check=False)
            return proc.stdout.decode() if proc.returncode == 0 else None

        return wait_for(answer, timeout)


@pytest.fixture
def hop_pane(target):
    """A tmux session of HOP_USER whose pane reads the agent through the link, and a function that
    hops from it back into this host with ssh -A on a real terminal."""
    name = f"hop{int(time.time() * 1000) % 100000}"
    target.run(HOP_USER, f"tmux new-session -d -s {name} -x 200 -y 50")
    pane = Pane(target, name)
    assert pane.ask("echo $SSH_AUTH_SOCK").strip() == f"/home/{HOP_USER}/.ssh/ssh_auth_sock"

    def hop():
        pane.type(f"ssh -A -tt -i ~/.ssh/hop -p {target.port} -o StrictHostKeyChecking=no"
                  f" -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {HOP_USER}@127.0.0.1")

        def logged_in():
            """Once logged in, the hop's shell answers with its own SSH_CONNECTION and socket."""
            answer = (pane.ask("echo $SSH_CONNECTION $SSH_AUTH_SOCK", timeout=3) or "").strip()
            return answer if answer and not answer.endswith("/.ssh/ssh_auth_sock") else None

        answer = wait_for(logged_in, 20)
        fields = (answer or "").split()
        assert len(fields) == 5 and fields[0] == "127.0.0.1", answer
        return fields[4]

    yield pane, hop
    target.run(HOP_USER, f"tmux kill-session -t {name}", check=False)


def leave_hop(pane):
    """The hop's terminal answers: `exit` ends it, and the pane's own shell runs again."""
    pane.type("exit")
    assert "back" in (pane.ask("echo back") or ""), "the hop's terminal froze"


@pytest.mark.parametrize("owner_tty", [False, True], ids=["notty-owner", "tty-owner"])
def test_hop_from_a_pane_never_takes_the_link(target, agents, hop_pane, owner_tty):
    pane, hop = hop_pane
    laptop = agents("laptop")
    with target.session(HOP_USER, laptop, tty=owner_tty) as owner:
        assert target.link_target(HOP_USER) == owner.sock
        hop_sock = hop()
        assert hop_sock != owner.sock
        assert target.link_target(HOP_USER) == owner.sock
        # Inside the hop the agent answers (hop -> pane's ssh -> link -> laptop), no freeze.
        assert "laptop" in (pane.ask("timeout 10 ssh-add -l") or "")
        # Attaching tmux from inside the hop fires the client-attached hook with the hop's
        # client: it does not take the link either.
        target.run(HOP_USER, "tmux -L inner new-session -d -s inner")
        pane.type("tmux -L inner attach -t inner")
        assert wait_for(lambda: "attached" in target.run(
            HOP_USER, "tmux -L inner list-sessions", check=False).stdout.decode())
        time.sleep(1)  # the hook runs in the background (run-shell -b)
        assert target.link_target(HOP_USER) == owner.sock
        target.run(HOP_USER, "tmux -L inner kill-server", check=False)
        leave_hop(pane)
        assert "laptop" in target.keys_through_link(HOP_USER)


def test_hop_while_the_owner_dies(target, agents, hop_pane):
    """The owner's sshd is killed with a hop open: the next login, short or interactive, never
    picks the hop's socket; inside the hop ssh-add fails at once instead of hanging."""
    pane, hop = hop_pane
    owner = target.session(HOP_USER, agents("laptop"), tty=False)
    assert target.link_target(HOP_USER) == owner.sock
    hop_sock = hop()
    target.root(f"kill -9 {owner.sshd_pid}")
    owner.close()
    target.run(HOP_USER, "true", agent=agents("short"))
    assert target.link_target(HOP_USER) != hop_sock
    started = time.monotonic()
    answer = pane.ask("timeout 10 ssh-add -l; echo rc=$?")
    assert answer is not None and time.monotonic() - started < 10, answer
    leave_hop(pane)
    with target.session(HOP_USER, agents("next-day")) as later:
        assert target.link_target(HOP_USER) == later.sock
        assert "next-day" in (pane.ask("ssh-add -l") or "")
