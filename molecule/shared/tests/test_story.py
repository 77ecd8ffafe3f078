"""The story the collection exists for, against a real sshd, real agents,
real tmux and screen: panes started before a disconnect keep a working agent
after reconnecting with another agent."""

import os
import signal
import subprocess
import threading
import time

import pytest

LINK = "/home/{user}/.ssh/ssh_auth_sock"


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def pane_keys(target, user, out, send):
    """Have a pane's own shell run `ssh-add -l`, and read what it answered."""
    target.run(user, f"rm -f {out}; {send}")

    def answer():
        return target.run(user, f"cat {out} 2>/dev/null", check=False).stdout.decode()

    return wait_for(answer)


def tmux_keys(target, user, pane):
    out = f"/tmp/pane-{user}-{pane.replace(':', '-').replace('.', '-')}"
    send = f"tmux send-keys -t {pane} 'ssh-add -l >{out}.tmp 2>&1; mv {out}.tmp {out}' Enter"
    return pane_keys(target, user, out, send)


def screen_keys(target, user, window, session="story"):
    out = f"/tmp/window-{user}-{window}"
    send = f"screen -S {session} -p {window} -X stuff 'ssh-add -l >{out}.tmp 2>&1; mv {out}.tmp {out}\\n'"
    return pane_keys(target, user, out, send)


def test_tmux_panes_survive_reconnect(target, agents):
    user = "alice"
    laptop_a, laptop_b = agents("laptop-A"), agents("laptop-B")
    with target.session(user, laptop_a) as first:
        # Start tmux from the first connection, with panes and windows, then detach.
        target.run(user, "tmux kill-session -t story 2>/dev/null; tmux new-session -d -s story"
                         " && tmux split-window -t story && tmux new-window -t story", agent=laptop_a)
        assert "laptop-A" in tmux_keys(target, user, "story:0.0")
    # Logged out: the first connection's socket is gone.
    assert target.root(f"test -e {first.sock} && echo present || echo gone").strip() == "gone"
    with target.session(user, laptop_b) as second:
        assert target.link_target(user) == second.sock
        for pane in ("story:0.0", "story:0.1", "story:1.0"):
            assert "laptop-B" in tmux_keys(target, user, pane), pane
        # New sessions and windows read the stable link too, not the raw socket.
        target.run(user, "tmux new-session -d -s later && tmux new-window -t later", agent=laptop_b)
        env = target.run(user, "tmux show-environment -t later SSH_AUTH_SOCK; "
                               "tmux show-environment -g SSH_AUTH_SOCK", check=False).stdout.decode()
        assert f"SSH_AUTH_SOCK={LINK.format(user=user)}" in env
        assert f"SSH_AUTH_SOCK={second.sock}" not in env
        assert "laptop-B" in tmux_keys(target, user, "later:1.0")
    target.run(user, "tmux kill-server", check=False)


def update_environment(target, config=None):
    """The names in tmux's update-environment, as tmux itself shows them, with the given config
    (None: the files tmux reads by itself). tmux 3.0 and later print one
    `update-environment[N] NAME` line per name, older ones one line."""
    option = f"-f {config} " if config else ""
    out = target.run("alice", f"tmux {option}-L ue-$$ start-server \\; show-options -g update-environment"
                     " \\; kill-server").stdout.decode()
    return [name for line in out.splitlines() for name in line.replace('"', " ").split()[1:]]


def test_tmux_update_environment_keeps_other_defaults(target):
    default = update_environment(target, "/dev/null")
    assert "SSH_AUTH_SOCK" in default
    assert update_environment(target) == [name for name in default if name != "SSH_AUTH_SOCK"]


@pytest.mark.parametrize("user_config", [
    "set -ga update-environment TERM_PROGRAM\nsource-file ~/.ssh/happyssh/tmux.conf\n",
    "source-file ~/.ssh/happyssh/tmux.conf\nset -ga update-environment TERM_PROGRAM\n",
    "set -ga update-environment TERM_PROGRAM\nset -ga update-environment LC_TERMINAL\n"
    "source-file ~/.ssh/happyssh/tmux.conf\nset -ga update-environment COLORFGBG\n"
    "source-file ~/.ssh/happyssh/tmux.conf\n",
], ids=["before", "after", "around-and-twice"])
def test_tmux_update_environment_keeps_the_users_names(target, user_config):
    """Only SSH_AUTH_SOCK leaves update-environment: names the user adds before or after the
    collection's line (or when its file is read twice) stay, on every tmux version."""
    config = "/tmp/ue-user.conf"
    target.run("alice", f"printf '{user_config}' >{config}")
    default = update_environment(target, "/dev/null")
    added = [line.split()[-1] for line in user_config.splitlines() if "update-environment" in line]
    assert sorted(update_environment(target, config)) == sorted(
        [name for name in default if name != "SSH_AUTH_SOCK"] + added)


def test_tmux_attach_follows_attaching_laptop(target, agents):
    user = "alice"
    laptop_a, laptop_b = agents("laptop-A"), agents("laptop-B")
    with target.session(user, laptop_a) as first:
        target.run(user, "tmux kill-session -t follow 2>/dev/null; tmux new-session -d -s follow", agent=laptop_a)
        assert target.link_target(user) == first.sock
        # Another laptop attaches while the first connection is still open.
        # tmux flushes its terminal when it starts: let the SOCK= line leave first.
        with target.session(user, laptop_b, command="sleep 1; exec tmux attach -t follow") as attach:
            assert wait_for(lambda: target.link_target(user) == attach.sock), target.link_target(user)
            assert "laptop-B" in tmux_keys(target, user, "follow:0.0")
    target.run(user, "tmux kill-server", check=False)


def tmux_version(target):
    """tmux's version on the host as a tuple, e.g. (3, 1) for 3.1c."""
    out = target.run("alice", "tmux -V").stdout.decode().split()[-1]
    major, minor = out.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()))


def test_tmux_config_loads_without_error(target):
    """The same file on every tmux: read without an error, and the client-active hook set only
    where tmux has it (3.3 and later)."""
    out = target.run("alice", "tmux -L cfg-$$ -f /dev/null new-session -d \\; source-file ~/.ssh/happyssh/tmux.conf"
                     " 2>&1; echo rc=$?; tmux -L cfg-$$ show-hooks -g; tmux -L cfg-$$ kill-server").stdout.decode()
    loaded, hooks = out.split("\n", 1)
    assert loaded == "rc=0", out
    assert "client-attached[73] " in hooks, hooks
    assert ("client-active[73] " in hooks) == (tmux_version(target) >= (3, 3)), hooks


def attached(target, user, agent, session, then="exit"):
    """A real terminal attached to tmux session `session` over `ssh -A -tt` (after a detach the
    connection runs `then`), its screen output drained."""
    conn = target.session(user, agent, command=f"sleep 1; tmux attach -t {session}; {then}")
    threading.Thread(target=drain, args=(conn.proc.stdout,), daemon=True).start()
    return conn


def drain(stream):
    """Read a terminal's output until it ends, so tmux never waits on a full pipe."""
    while stream.read1(4096):
        pass


def type_in(conn):
    """A person presses Enter in that terminal: tmux reads a key from that client."""
    conn.proc.stdin.write(b"\r")
    conn.proc.stdin.flush()


def tmux_client(target, user, sock, field):
    """A format field (client_pid, client_name) of the tmux client whose connection forwards `sock`."""
    out = target.run(user, f"tmux list-clients -F '#{{client_pid}} #{{{field}}}' | while read -r p v; do"
                           " tr '\\0' '\\n' <\"/proc/$p/environ\""
                           f" | grep -qx 'SSH_AUTH_SOCK={sock}' && echo \"$v\"; done; true").stdout.decode()
    return out.strip()


def keepers_running(target, user, mode, pid):
    """How many processes of the link keeper run in `mode` for client `pid` (the hook and its
    subshells; a command line read from /proc ends in a NUL, here a space)."""
    out = target.run(user, "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <\"$f\" 2>/dev/null; echo; done"
                           f" | grep -c '[h]appyssh-link {mode} {pid} ' || :").stdout.decode()
    return int(out.strip() or 0)


def test_tmux_link_follows_the_client_typed_in(target, agents):
    """Desktop and laptop attached to one session at once: panes use the agent of the one typed in;
    when the active one leaves, the one that stays takes it; a frozen one never does."""
    if tmux_version(target) < (3, 3):
        pytest.skip("tmux before 3.3 has no client-active hook: only the attach hook follows clients there"
                    " (test_tmux_attach_follows_attaching_laptop)")
    user = "alice"
    laptop_a, laptop_b, laptop_c = agents("laptop-A"), agents("laptop-B"), agents("laptop-C")
    target.run(user, "tmux kill-session -t active 2>/dev/null; tmux new-session -d -s active")
    with attached(target, user, laptop_a, "active", then="exec sleep 3600") as desk:
        assert wait_for(lambda: target.link_target(user) == desk.sock), target.link_target(user)
        with attached(target, user, laptop_b, "active") as laptop:
            assert wait_for(lambda: target.link_target(user) == laptop.sock), target.link_target(user)
            type_in(desk)
            assert wait_for(lambda: target.link_target(user) == desk.sock), target.link_target(user)
            assert "laptop-A" in tmux_keys(target, user, "active:0.0")
            type_in(laptop)
            assert wait_for(lambda: target.link_target(user) == laptop.sock), target.link_target(user)
            assert "laptop-B" in tmux_keys(target, user, "active:0.0")
        # The laptop, the active client, is gone: the desk is the active client again.
        assert wait_for(lambda: target.link_target(user) == desk.sock), target.link_target(user)
        assert "laptop-A" in tmux_keys(target, user, "active:0.0")
        frozen_client_never_takes_the_link(target, user, laptop_c, desk)
    target.run(user, "tmux kill-server", check=False)


def frozen_client_never_takes_the_link(target, user, agent, desk):
    """A third client attaches, its ssh client is stopped (a suspended laptop), and the desk, the
    active client, detaches: tmux makes the frozen client the active one, the hook asks its agent,
    gets no answer within the probe bound, and the link stays on the desk's agent."""
    with attached(target, user, agent, "active") as frozen:
        assert wait_for(lambda: target.link_target(user) == frozen.sock), target.link_target(user)
        type_in(desk)
        assert wait_for(lambda: target.link_target(user) == desk.sock), target.link_target(user)
        pid = tmux_client(target, user, frozen.sock, "client_pid")
        desk_name = tmux_client(target, user, desk.sock, "client_name")
        assert pid and desk_name, "the tmux clients of the desk and the frozen laptop"
        frozen.proc.send_signal(signal.SIGSTOP)
        try:
            target.run(user, f"tmux detach-client -t {desk_name}")
            # The hook runs for the frozen client and waits on its agent, then gives up.
            assert wait_for(lambda: keepers_running(target, user, "active", pid) > 0, timeout=5)
            assert wait_for(lambda: keepers_running(target, user, "active", pid) == 0, timeout=15)
            assert target.link_target(user) == desk.sock
            assert "laptop-A" in tmux_keys(target, user, "active:0.0")
        finally:
            frozen.proc.send_signal(signal.SIGCONT)


def test_screen_windows_survive_reconnect(target, agents):
    user = "bob"
    laptop_a, laptop_b = agents("laptop-A"), agents("laptop-B")
    with target.session(user, laptop_a):
        target.run(user, "screen -wipe >/dev/null; screen -dmS story && sleep 0.5 && screen -S story -X screen",
                   agent=laptop_a, check=False)
        assert "laptop-A" in screen_keys(target, user, 0)
    with target.session(user, laptop_b):
        assert "laptop-B" in screen_keys(target, user, 0)
        assert "laptop-B" in screen_keys(target, user, 1)
    target.run(user, "screen -S story -X quit", check=False)


def test_stale_socket_of_killed_sshd_is_replaced(target, agents):
    user = "carol"
    laptop_a, laptop_b = agents("laptop-A"), agents("laptop-B")
    first = target.session(user, laptop_a)
    assert target.link_target(user) == first.sock
    target.root(f"kill -9 {first.sshd_pid}")
    first.close()
    # The socket file stays behind: [ -S ] alone would call it alive.
    assert target.root(f"test -S {first.sock} && echo stale").strip() == "stale"
    # The next connection, even a non-interactive one, takes the link over.
    with target.session(user, laptop_b, tty=False) as second:
        assert target.link_target(user) == second.sock
        assert "laptop-B" in target.keys_through_link(user)


def test_short_connections_never_steal_the_link(target, agents):
    user = "dave"
    laptop, rsync = agents("laptop"), agents("rsync")
    with target.session(user, laptop) as owner:
        assert target.link_target(user) == owner.sock
        procs = []
        env = dict(os.environ, SSH_AUTH_SOCK=rsync.sock)
        for _connection in range(50):
            procs.append(subprocess.Popen(target.argv(user, "true", rsync), env=env,
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            if len(procs) % 10 == 0:
                for proc in procs[-10:]:
                    assert proc.wait(timeout=60) == 0
        assert target.link_target(user) == owner.sock
        assert "laptop" in target.keys_through_link(user)


def test_x11_cookie_reaches_xauth(target):
    proc = target.run("erin", "echo DISPLAY=$DISPLAY; xauth list", x11=True, env={"DISPLAY": ":99"})
    out = proc.stdout.decode()
    display = out.splitlines()[0].split("=", 1)[1]
    assert display.startswith("localhost:"), out
    number = display.split(":", 1)[1].split(".")[0]
    assert f"unix:{number}" in out, out


def test_rc_output_is_byte_identical(target, agents):
    agent = agents("laptop")
    with_rc = target.run("alice", "printf x", agent=agent).stdout
    without_rc = target.run("root", "printf x", agent=agent).stdout
    assert with_rc == without_rc == b"x"


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_role_leaves_no_ansible_directory_in_homes(host, user):
    # Files are written by a process running as the user: no ~/.ansible appears.
    assert not host.file(f"/home/{user}/.ansible").exists
