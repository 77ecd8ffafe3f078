"""A real multiplexed client (ControlMaster=auto, ControlPersist): once its last session ends its
sshd is titled user@notty, and a new interactive login from another laptop takes the link."""

import os
import subprocess

from test_story import wait_for

USER = "alice"


def master_argv(target, agent, control, command):
    argv = target.argv(USER, command, agent, tty=True)
    argv[argv.index("ControlMaster=no")] = "ControlMaster=auto"
    argv[argv.index("ControlPath=none")] = f"ControlPath={control}"
    return argv[:1] + ["-o", "ControlPersist=120"] + argv[1:]


def test_idle_control_master_is_outranked(target, agents, tmp_path):
    laptop_a, laptop_b = agents("master-A"), agents("laptop-B")
    control = str(tmp_path / "ctl")
    env = dict(os.environ, SSH_AUTH_SOCK=laptop_a.sock, TERM="xterm")
    # One interactive session through a new master; the master stays after it ends.
    proc = subprocess.run(master_argv(target, laptop_a, control, "echo SOCK=$SSH_AUTH_SOCK"), env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    try:
        sock = proc.stdout.decode().split("SOCK=", 1)[1].split()[0]
        pid = sock.rsplit(".sshd.", 1)[-1].split(".")[0] if ".sshd." in sock else sock.rsplit(".", 1)[-1]
        assert target.root(f"cat /tmp/happyssh-{USER}/agent.owner").split() == ["tty", sock]
        # The master's sshd now has no session: its title says so.
        assert wait_for(lambda: "@notty" in target.root(f"tr '\\0' ' ' </proc/{pid}/cmdline"))
        assert target.link_target(USER) == sock
        assert "master-A" in target.keys_through_link(USER)
        with target.session(USER, laptop_b) as other:
            assert target.link_target(USER) == other.sock
            assert "laptop-B" in target.keys_through_link(USER)
    finally:
        subprocess.run(["ssh", "-o", f"ControlPath={control}", "-O", "exit", "x"], env=env,
                       capture_output=True, timeout=30, check=False)
