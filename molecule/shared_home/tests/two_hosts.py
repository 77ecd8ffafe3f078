"""Two hosts sharing the users' homes: the harness's Target for each, plus what
the shared-home tests look at on one host (its own view of the stable link, its
tmux panes, its processes). Everything runs over real SSH."""

import hashlib
import re
import shlex
import time

from harness import Target

USERS = ("alice", "bob")
STABLE = "/home/{user}/.ssh/ssh_auth_sock"
# The host-local directory of the design: link, state and lock of this host.
LOCAL = "/tmp/happyssh-{user}"
# What OpenSSH >= 10.1 maps each byte of the hostname's SHA-512 into.
HASH_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def wait_for(predicate, timeout=15.0, interval=0.1):
    """Poll until predicate returns something true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def lists_key(output, name):
    """`ssh-add -l` output holds the key whose comment is name (a whole word)."""
    return re.search(rf"\s{re.escape(name)} \(", output) is not None


def hostname_hash(hostname):
    """The 10 characters OpenSSH >= 10.1 puts after `s.` in a forwarded socket's name."""
    digest = hashlib.sha512(hostname.encode()).digest()
    return "".join(HASH_ALPHABET[byte % len(HASH_ALPHABET)] for byte in digest[:10])


class Host(Target):
    """One of the two hosts: its inventory name, label (A or B) and SSH address."""

    def __init__(self, name, label, address, port):
        super().__init__(address, port)
        self.name = name
        self.label = label
        self._panes = 0

    def __repr__(self):
        return f"Host({self.label} {self.name} :{self.port})"

    def hostname(self):
        return self.root("cat /proc/sys/kernel/hostname").strip()

    def openssh_version(self):
        """(major, minor) of the host's OpenSSH."""
        out = self.run("root", "ssh -V 2>&1").stdout.decode()
        found = re.search(r"OpenSSH_(\d+)\.(\d+)", out)
        assert found, out
        return int(found.group(1)), int(found.group(2))

    def resolved_link(self, user):
        """Where the stable path leads on this host, followed to the end ('' when nowhere)."""
        return self.root(f"readlink -f {STABLE.format(user=user)} || true").strip()

    def stable_link(self, user):
        """The stable path's own target, as this host reads it."""
        return self.root(f"readlink {STABLE.format(user=user)} || true").strip()

    def local_link(self, user):
        """The target of this host's own link in its host-local directory."""
        return self.root(f"readlink {LOCAL.format(user=user)}/agent || true").strip()

    def exists(self, path):
        return self.root(f"if test -e {shlex.quote(path)} || test -L {shlex.quote(path)}; "
                         "then echo present; else echo gone; fi").strip() == "present"

    def start_sleep(self, user, seconds=300):
        """A live process of user's on this host; returns its pid (in this host's namespace)."""
        out = self.run(user, f"sleep {seconds} </dev/null >/dev/null 2>&1 & echo $!").stdout.decode()
        return int(out.strip())

    def alive(self, pid):
        return self.root(f"kill -0 {pid} 2>/dev/null && echo alive || echo dead").strip() == "alive"

    def kill(self, pid):
        self.root(f"kill {pid} 2>/dev/null || true")

    def session_with_tmux(self, user, agent, name):
        """An interactive `ssh -A -tt` connection that starts a tmux session (two
        windows) from its own shell and stays open."""
        command = f"tmux new-session -d -s {name} \\; new-window -d -t {name}; exec sleep 3600"
        session = self.session(user, agent, command=command)
        started = wait_for(lambda: self.run(user, f"tmux has-session -t {name}", check=False).returncode == 0)
        if not started:
            session.close()
            raise AssertionError(f"{self}: tmux session {name} did not start")
        return session

    def pane_keys(self, user, pane):
        """Have the pane's own shell run `ssh-add -l` and return what it answered."""
        self._panes += 1
        out = f"/tmp/hs-pane-{user}-{self._panes}"
        command = f"timeout 5 ssh-add -l >{out}.tmp 2>&1; mv {out}.tmp {out}"
        self.run(user, f"rm -f {out}; tmux send-keys -t {pane} {shlex.quote(command)} Enter")
        return wait_for(lambda: self.root(f"cat {out} 2>/dev/null || true"))

    def reset(self):
        """End the users' tmux servers and remove the pane answers of this host."""
        for user in USERS:
            self.run(user, "tmux kill-server 2>/dev/null; true", check=False)
        self.root("rm -f /tmp/hs-pane-*")
