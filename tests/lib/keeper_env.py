# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures for running ~/.ssh/rc and the link keeper the way sshd runs them (tests/unit/conftest.py
makes them the fixtures of every unit test).

The home gets the rc part as the role installs it (tests/lib/homes.py): the keeper as shipped in
roles/forwarding/files, the role's rc.j2 rendered with its defaults, and the role's include line
in ~/.ssh/rc.

Forwarded agents are real ssh-agents whose sockets sit where OpenSSH puts them:
/tmp/ssh-XXXXXXXXXX/agent.<pid> (up to 10.0) or ~/.ssh/agent/s.<hash>.sshd.<pid>.<random>
(10.1), <pid> being a stand-in for the session's sshd: a sleep run as "sshd" (its comm) whose argv[0] reads
"sshd: root@pts/3" or "sshd: root@notty".

The keeper scans /tmp/ssh-*, and other sessions on this host may have real root sockets
there (or would find ours). When unshare(1) works, every shell therefore runs in a private
mount namespace whose /tmp is a bind mount of our own directory (tests/lib/private-tmp: the
checkout and the venv stay at their paths, even under /tmp); paths the keeper sees
(/tmp/ssh-...) are mapped back with Env.real(). Without it (not root, no unshare) the real
/tmp is used, and a live root socket of someone else there can change which one is picked.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import random
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import agents  # pylint: disable=import-error
import homes  # pylint: disable=import-error
from homes import ROOT  # pylint: disable=import-error
from ansible_collections.happyssh.agent.plugins.module_utils.agent_link import host_hash
PRIVATE_TMP = os.path.join(ROOT, 'tests', 'lib', 'private-tmp')
PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
USER = getpass.getuser()
NOBODY = 65534

SHELLS = {
    'dash': ['dash'],
    'bash': ['bash'],
    'busybox': ['busybox', 'sh'],
    'mksh': ['mksh'],
    'posh': ['posh'],
}


def _shell_available(name):
    argv = SHELLS[name]
    if shutil.which(argv[0]) is None:
        return False
    if argv[0] == 'busybox':
        return subprocess.run(['busybox', 'sh', '-c', ':'], check=False).returncode == 0
    return True


@pytest.fixture(params=list(SHELLS))
def shell(request):
    """Each shell the keeper claims to support, skipped when not installed."""
    if not _shell_available(request.param):
        pytest.skip('%s is not installed' % request.param)
    return SHELLS[request.param]


def _randname(length=10):
    return ''.join(random.choice(string.ascii_letters + string.digits) for dummy in range(length))


def _private_tmp(tmp_dir):
    """The argv prefix that runs a command with tmp_dir as its /tmp, in a mount namespace of its own."""
    return ['bash', PRIVATE_TMP, '--keep', ROOT, '--keep', sys.prefix, tmp_dir]


def _namespace_works(tmp_dir):
    probe = os.path.join(tmp_dir, '.happyssh-ns-probe')
    with open(probe, 'w'):
        pass
    try:
        # Our /tmp inside, and the checkout still there.
        result = subprocess.run(
            _private_tmp(tmp_dir) + ['/bin/sh', '-c', 'test -e /tmp/.happyssh-ns-probe && test -d "$0"', ROOT],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        os.unlink(probe)
    return result.returncode == 0


_NAMED = tempfile.mkdtemp(prefix='happyssh-fake-sshd-', dir='/var/tmp' if os.access('/var/tmp', os.W_OK) else None)
atexit.register(shutil.rmtree, _NAMED, True)


def _named(program, name):
    """A path that runs program under the process name name (the kernel names a process after the
    file it executes: a symlink's own name)."""
    directory = os.path.join(_NAMED, program)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if not os.path.lexists(path):
        os.symlink(shutil.which(program), path)
    return path


class Session:
    """One forwarded agent: a fake session sshd and a real ssh-agent at OpenSSH's path."""

    def __init__(self, env, name, tty, layout, sshd_name, connection=None, host=None):
        self.env = env
        self.name = name
        self.procs = []
        self.held = []
        self.listener = self.stop = self.thread = None
        self.dir = None
        # The /tmp of the host the session is on (see Env.other_host).
        self.tmp = env.tmp
        # Registered first, so a session that fails half-way is still cleaned up.
        env.sessions.append(self)
        title = '%s: %s@%s' % (sshd_name, USER, 'pts/3' if tty else 'notty')
        # Named as sshd names its process (/proc/<pid>/comm, what the hot path reads) and titled as
        # it titles it (/proc/<pid>/cmdline, what the full rules read).
        if connection is None:
            self.sshd = self._spawn(['bash', '-c', 'exec -a "$0" "$1" 300', title, _named('sleep', sshd_name)])
        else:
            # The session's shell, a child of its sshd, carries SSH_CONNECTION (a hop's origin).
            self.sshd = self._spawn(['bash', '-c', 'exec -a "$0" "$2" -c "SSH_CONNECTION=\\"\\$0\\" sleep 300 & wait" "$1"',
                                     title, connection, _named('bash', sshd_name)])
            agents.wait_until(self._children, 'the session shell of %s' % name)
        agents.wait_until(lambda: self._cmdline().startswith(title.encode()), 'the fake sshd %s' % name)
        pid = self.sshd.pid
        if layout == 'tmp':
            self.dir = os.path.join('/tmp', 'ssh-' + _randname())
            self.sock = os.path.join(self.dir, 'agent.%d' % pid)
        else:
            self.dir = os.path.join(env.home, '.ssh', 'agent')
            # OpenSSH names it with the hash of the hostname: this host's, or another's that shares the home.
            self.sock = os.path.join(self.dir, 's.%s.sshd.%d.%s' % (host_hash(host), pid, _randname(10)))
        os.makedirs(self.real_dir, mode=0o700, exist_ok=True)
        os.chmod(self.real_dir, 0o700)
        self.agent = agents.RealAgent(self.real, name, env.keys, popen=self._spawn).proc

    def _spawn(self, argv):
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def _children(self):
        try:
            with open('/proc/%d/task/%d/children' % (self.sshd.pid, self.sshd.pid)) as f:
                return f.read().split()
        except OSError:
            return []

    def _cmdline(self):
        try:
            with open('/proc/%d/cmdline' % self.sshd.pid, 'rb') as f:
                return f.read()
        except OSError:
            return b''

    @property
    def real(self):
        return self.env.real(self.sock, self.tmp)

    @property
    def real_dir(self):
        return self.env.real(self.dir, self.tmp)

    def kill_sshd(self):
        """The session's sshd dies without cleaning up (SIGKILL): its socket file stays."""
        os.killpg(self.sshd.pid, signal.SIGKILL)
        self.sshd.wait()
        self.agent.kill()
        self.agent.wait()
        assert stat.S_ISSOCK(os.lstat(self.real).st_mode)

    def remove(self):
        """The session ended normally: sshd and the socket are gone."""
        self.close()
        if os.path.lexists(self.real):
            os.unlink(self.real)

    def hang(self, how='listener'):
        """A frozen client: connecting still succeeds, nothing ever answers.

        'sigstop' stops the real agent; 'listener' puts a socket in its place that accepts and
        never answers, and counts the connections (the keeper's probes) in self.probes.
        """
        if how == 'sigstop':
            self.agent.send_signal(signal.SIGSTOP)
            return
        self.agent.kill()
        self.agent.wait()
        os.unlink(self.real)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.real)
        self.listener.listen(64)
        self.listener.settimeout(0.05)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        for conn in agents.accepted(self.listener, self.stop):
            self.held.append(conn)

    @property
    def probes(self):
        return len(self.held)

    def close(self):
        if self.thread is not None:
            self.stop.set()
            self.thread.join()
            self.thread = None
            for conn in self.held + [self.listener]:
                conn.close()
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    if proc is self.sshd:
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.send_signal(signal.SIGCONT)
                    proc.terminate()
                    proc.wait(5)
                except (OSError, subprocess.TimeoutExpired):
                    proc.kill()
                    proc.wait()


class Env:
    """A temporary HOME with the rendered rc part and the keeper, and helpers to run them."""

    def __init__(self, base, namespaced, pristine):
        self.base = base
        self.namespaced = namespaced
        self.pristine = pristine
        self.home = os.path.join(base, 'home')
        self.tmp = os.path.join(base, 'tmp') if namespaced else '/tmp'
        self.keys = os.path.join(base, 'keys')
        self.ssh = os.path.join(self.home, '.ssh')
        self.link = os.path.join(self.ssh, 'ssh_auth_sock')
        # This host's directory, as the keeper sees it (host_*) and from here.
        self.host_dir = '/tmp/happyssh-' + USER
        self.host_link = self.host_dir + '/agent'
        self.hostdir = self.real(self.host_dir)
        self.sock = self.real(self.host_link)
        self.state = self.sock + '.owner'
        self.lock = self.sock + '.lock'
        self.script = os.path.join(self.ssh, 'happyssh', 'happyssh-link')
        self.rc = os.path.join(self.ssh, 'rc')
        self.sessions = []
        self.procs = []
        self.servers = []

    def real(self, path, tmp=None):
        """Where a path the keeper sees is, seen from here."""
        if self.namespaced and (path == '/tmp' or path.startswith('/tmp/')):
            return (tmp or self.tmp) + path[len('/tmp'):]
        return path

    hostname = None

    @contextlib.contextmanager
    def other_host(self, hostname='hostb'):
        """Run logins, hooks and new sessions as on a second host that shares this home: its own
        /tmp (so its own host directory and /tmp/ssh-*) and its own hostname. It shares this host's
        pids, which makes every pid of the other host look alive here: the worst case."""
        if not self.namespaced:
            pytest.skip('a second host needs a private mount and UTS namespace')
        saved = self.tmp, self.hostdir, self.sock, self.state, self.lock
        self.tmp = self.tmp + '-' + hostname
        _remove(self.tmp)
        os.mkdir(self.tmp, 0o700)
        self.hostdir = self.real(self.host_dir)
        self.sock = self.real(self.host_link)
        self.state, self.lock = self.sock + '.owner', self.sock + '.lock'
        os.mkdir(self.hostdir, 0o700)
        self.hostname = hostname
        try:
            yield self
        finally:
            self.hostname = None
            self.tmp, self.hostdir, self.sock, self.state, self.lock = saved

    def reset(self):
        for entry in os.listdir(self.home):
            if entry != '.ssh':
                _remove(os.path.join(self.home, entry))
        for entry in os.listdir(self.ssh):
            _remove(os.path.join(self.ssh, entry))
        for name, data in self.pristine.items():
            path = os.path.join(self.ssh, name)
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            with open(path, 'wb') as f:
                f.write(data)
        os.chmod(self.ssh, 0o700)
        # This host's directory as the first login leaves it (tests of its making remove it).
        _remove(self.hostdir)
        os.mkdir(self.hostdir, 0o700)

    def session(self, name, tty=False, layout='tmp', sshd_name='sshd', connection=None, host=None):
        return Session(self, name, tty, layout, sshd_name, connection, host)

    def local_client(self, auth_sock, connection=None):
        """An ssh client on this host, seen from the server side: a process of ours holding a TCP
        connection to 127.0.0.1, with SSH_AUTH_SOCK (and SSH_CONNECTION) in its environment.
        Returns the SSH_CONNECTION its session would have."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(('127.0.0.1', 0))
        server.listen(4)
        self.servers.append(server)
        variables = dict(os.environ, SSH_AUTH_SOCK=auth_sock)
        variables.pop('SSH_CONNECTION', None)
        if connection:
            variables['SSH_CONNECTION'] = connection
        code = ('import socket, sys, time\n'
                's = socket.create_connection(("127.0.0.1", %d))\n'
                'print(s.getsockname()[1], flush=True)\n'
                'time.sleep(300)\n' % server.getsockname()[1])
        proc = subprocess.Popen([sys.executable, '-c', code], env=variables, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        port = int(proc.stdout.readline())
        accepted, dummy = server.accept()
        self.servers.append(accepted)
        return '127.0.0.1 %d 127.0.0.1 %d' % (port, server.getsockname()[1])

    def spawn(self, argv, env):
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def close(self):
        self._reap_keepers()
        for sess in self.sessions:
            sess.close()
            if sess.dir is not None and sess.dir.startswith('/tmp/'):
                _remove(sess.real_dir)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for server in self.servers:
            server.close()
        self.sessions = []
        self.procs = []
        self.servers = []

    def _reap_keepers(self):
        """A run that timed out is killed, but the shell it started to run the keeper is not: end
        the shells running a file of this home (dash FILE, busybox sh FILE), so that a hang fails
        one test and leaves nothing behind."""
        mark = os.fsencode(self.ssh) + b'/'
        for entry in os.listdir('/proc'):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                    argv = handle.read().split(b'\0')
            except OSError:
                continue
            if any(arg.startswith(mark) for arg in argv[1:3]):
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass

    def _wrap(self, argv):
        if not self.namespaced:
            return argv
        if self.hostname:
            return _private_tmp(self.tmp) + ['unshare', '-u', '/bin/sh', '-c',
                                             'echo "$0" >/proc/sys/kernel/hostname && exec "$@"',
                                             self.hostname] + argv
        return _private_tmp(self.tmp) + argv

    def _run(self, argv, variables, stdin, timeout):
        base = {'HOME': self.home, 'PATH': PATH, 'USER': USER, 'LOGNAME': USER, 'SHELL': '/bin/sh'}
        base.update(variables)
        env_argv = ['env', '-i'] + ['%s=%s' % item for item in sorted(base.items())]
        started = time.monotonic()
        # cwd: a working directory hidden behind the private /tmp makes posh crash.
        result = subprocess.run(self._wrap(env_argv + argv), input=stdin, capture_output=True,
                                timeout=timeout, check=False, cwd=self.home)
        result.elapsed = time.monotonic() - started
        # The session's data stream: not one byte, in any case.
        assert result.stdout == b'', 'stdout: %r stderr: %r' % (result.stdout, result.stderr)
        # The lock is released and no temporary file is left behind.
        assert not os.path.lexists(self.lock) or self.lock_is_foreign(), 'lock left behind'
        leftovers = [n for d in (self.ssh, self.hostdir) if os.path.isdir(d) and not os.path.islink(d)
                     for n in os.listdir(d) if '.tmp.' in n]
        assert not leftovers, 'temporary files left behind: %s' % leftovers
        return result

    foreign_lock = None

    def lock_is_foreign(self):
        return self.foreign_lock is not None and os.path.islink(self.lock) \
            and os.readlink(self.lock) == self.foreign_lock

    def login(self, shell, sock, tty=False, stdin=b'', extra=None, timeout=20):
        """Run ~/.ssh/rc as sshd does: $SHELL -c '/bin/sh ~/.ssh/rc', stdin an empty pipe."""
        variables = {'SSH_AUTH_SOCK': sock if isinstance(sock, str) else sock.sock}
        if tty:
            variables['SSH_TTY'] = '/dev/pts/9'
        variables.update(extra or {})
        command = ' '.join(shell) + ' "$HOME/.ssh/rc"'
        return self._run(shell + ['-c', command], variables, stdin, timeout)

    def hook(self, shell, *args, extra=None, timeout=20):
        """Run the keeper as the tmux hook or the prompt hook do: sh happyssh-link MODE [ARG]."""
        return self._run(shell + [self.script] + [str(a) for a in args], extra or {}, b'', timeout)

    def target(self):
        """This host's link's target as the keeper wrote it, or None; the link in the home must lead
        to this host's link whenever there is one."""
        if not os.path.islink(self.sock):
            return None
        # The keeper writes the host link as it sees it, the module (run from here) as it is here.
        assert os.readlink(self.link) in (self.host_link, self.sock), 'the home link does not lead to the host link'
        return os.readlink(self.sock)

    def point(self, target):
        """This host's link on target (a path as seen from here), the home's link on this host's link:
        the steady state a module run starts from."""
        os.symlink(target, self.sock)
        os.symlink(self.sock, self.link)

    def owner(self):
        """The state file: [kind, target], or None."""
        if not os.path.exists(self.state):
            return None
        with open(self.state) as f:
            return f.read().split()

    def through_link(self):
        """Comments of the keys of the agent the link leads to, as a client in the session sees it."""
        argv = self._wrap(['env', 'SSH_AUTH_SOCK=' + self.link, 'ssh-add', '-l'])
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10, check=False,
                                cwd=self.home)
        return [line.split()[2] for line in result.stdout.splitlines() if len(line.split()) >= 3]


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


@pytest.fixture(scope='session')
def rendered():
    """A base directory with home/.ssh/rc and home/.ssh/happyssh/{rc,happyssh-link}, once per session."""
    for tool in ('ssh-agent', 'ssh-add', 'ssh-keygen'):
        if shutil.which(tool) is None:
            pytest.skip('%s is not installed' % tool)
    # Not under /tmp: inside the namespace /tmp is replaced, HOME must stay visible.
    parent = '/var/tmp' if os.access('/var/tmp', os.W_OK) else None
    base = tempfile.mkdtemp(prefix='happyssh-rc-', dir=parent)
    try:
        home = os.path.join(base, 'home')
        for sub in ('home/.ssh', 'tmp', 'keys', 'work'):
            os.makedirs(os.path.join(base, sub), mode=0o700)
        homes.install_rc(home)
        pristine = {}
        for name in ('rc', 'happyssh/rc', 'happyssh/happyssh-link'):
            with open(os.path.join(home, '.ssh', name), 'rb') as f:
                pristine[name] = f.read()
        yield base, _namespace_works(os.path.join(base, 'tmp')), pristine
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope='session')
def path_without_timeout(rendered):
    """A PATH with every command of the usual one except timeout(1), as on hosts without coreutils."""
    bindir = os.path.join(rendered[0], 'bin-no-timeout')
    os.mkdir(bindir)
    for directory in reversed(PATH.split(':')):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if name != 'timeout' and os.access(path, os.X_OK) and not os.path.isdir(path):
                link = os.path.join(bindir, name)
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink(path, link)
    return bindir


@pytest.fixture
def env(rendered):
    base, namespaced, pristine = rendered
    environment = Env(base, namespaced, pristine)
    environment.reset()
    try:
        yield environment
    finally:
        environment.close()
        environment.reset()
