"""Controller-side harness of the Molecule tests: real ssh-agents, real
`ssh -A` connections (interactive ones on a pty), run against the host
Molecule created, whose address and port come from its inventory.
Each scenario's conftest.py takes the fixtures from here."""

import os
import subprocess
import tempfile

import pytest

import agents as agent_lib  # pylint: disable=import-error

KEY = os.environ["HAPPYSSH_KEY"]


class Target:
    def __init__(self, address, port):
        self.address = address
        self.port = str(port)

    def argv(self, user, command, agent=None, tty=False, x11=False):
        argv = ["ssh", "-i", KEY, "-p", self.port, "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ControlMaster=no",
                "-o", "ControlPath=none"]
        argv += ["-A"] if agent else ["-a"]
        argv += ["-tt"] if tty else ["-T"]
        if x11:
            argv += ["-Y"]
        return argv + [f"{user}@{self.address}", command]

    def run(self, user, command, agent=None, tty=False, x11=False, env=None, check=True):
        full_env = dict(os.environ, **(env or {}))
        full_env.pop("SSH_AUTH_SOCK", None)
        if agent:
            full_env["SSH_AUTH_SOCK"] = agent.sock
        proc = subprocess.run(self.argv(user, command, agent, tty, x11), env=full_env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"ssh {user} {command!r}: rc={proc.returncode} {proc.stderr!r}")
        return proc

    def root(self, command):
        return self.run("root", command).stdout.decode()

    def session(self, user, agent, tty=True, command="exec sleep 3600"):
        """A long-lived connection, left open until closed (or killed)."""
        return Session(self, user, agent, tty, command)

    def link_target(self, user):
        # The link in the home leads to this host's link (/tmp/happyssh-<user>/agent), which leads to the socket.
        return self.root(f"readlink /tmp/happyssh-{user}/agent || true").strip()

    def keys_through_link(self, user):
        """What the stable link's agent answers, asked on the host as the user."""
        proc = self.run(user, "env \"SSH_AUTH_SOCK=$HOME/.ssh/ssh_auth_sock\" timeout 5 ssh-add -l", check=False)
        return proc.stdout.decode() + proc.stderr.decode()


class Session:
    def __init__(self, target, user, agent, tty, command):
        self.user = user
        env = dict(os.environ, SSH_AUTH_SOCK=agent.sock, TERM="xterm-256color")
        command = f"echo SOCK=$SSH_AUTH_SOCK; {command}"
        self.proc = subprocess.Popen(target.argv(user, command, agent, tty), env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().strip()
        assert line.startswith("SOCK="), f"session did not start: {line!r}"
        self.sock = line[len("SOCK="):]
        # Linux puts the session's sshd pid in the socket name.
        self.sshd_pid = self.sock.rsplit(".sshd.", 1)[-1].split(".")[0] if ".sshd." in self.sock \
            else self.sock.rsplit(".", 1)[-1]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Agent(agent_lib.RealAgent):
    """A real ssh-agent on this machine holding one key named after it."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="hs-agent-")
        super().__init__(os.path.join(self.dir, "agent"), name, self.dir)


def run_playbook(playbook, *extra_vars, options=()):
    """ansible-playbook on the scenario's host; extra_vars: each one -e argument."""
    argv = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook] + list(options)
    for value in extra_vars:
        argv += ["-e", value]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def apply_role(*extra_vars, tasks_from="main", options=()):
    """Run happyssh.agent.forwarding on the scenario's host with ansible-playbook."""
    playbook = ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                "    - ansible.builtin.include_role:\n        name: happyssh.agent.forwarding\n"
                f"        tasks_from: {tasks_from}\n")
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(playbook)
    try:
        return run_playbook(handle.name, *extra_vars, options=options)
    finally:
        os.unlink(handle.name)


def recap(proc):
    """The counters of the play recap of an ansible-playbook run, e.g. {"changed": 0, "failed": 0}."""
    line = [text for text in proc.stdout.splitlines() if " : ok=" in text][-1]
    return {name: int(value) for name, value in (item.split("=") for item in line.split(":", 1)[1].split())}


@pytest.fixture(scope="module")
def target(host):
    hostvars = host.ansible.get_variables()
    return Target(hostvars.get("ansible_host", "127.0.0.1"), hostvars.get("ansible_port", 22))


@pytest.fixture
def agents():
    made = []

    def make(name):
        agent = Agent(name)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.stop()
