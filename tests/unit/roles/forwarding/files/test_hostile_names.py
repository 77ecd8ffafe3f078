# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hostile names in /tmp: what other local users (and accidents) can leave where the link keeper
and the module look for agent sockets.

Live agents of another user (uid 65534) in directories whose names hold spaces, newlines, glob
and shell metacharacters or 255 characters; a symlinked directory of another user leading to
one of ours; symlink loops; FIFOs, regular files (executable ones too) and directories named
like sockets; a live agent of ours in a directory anyone may write. Each scene is made before
the user's own live interactive agent ("laptop"), so every hostile agent has lived longer and
would be chosen first if it were trusted.

The keeper (a non-interactive login whose owner is dead, the prompt hook, the tmux attach hook
with a client whose SSH_AUTH_SOCK is such a name) and the module (ensure_present with the
default search patterns) never link any of them, never run a name (no `pwned` file appears),
print nothing on stdout (conftest checks every keeper run) and stay within their time bounds
(a FIFO never blocks them).

Everything is made in the private /tmp of the tests (Env.real), never in the host's /tmp.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils import agent_link
from ansible_collections.happyssh.agent.plugins.modules import auth_sock

NOBODY = 65534
# A login that scans, probes one agent and relinks takes well under a second; 20 s is the
# conftest's kill timeout. A blocked FIFO read or an endless loop ends up between the two.
BOUND = 8
RUN_TIMEOUT = 15

# Directory names under /tmp/ssh-*: what the glob matches and another user may create.
PAYLOADS = [
    'two words',
    'new\nline',
    'tab\tand\rreturn',
    '*',
    '?',
    '[a-z]*',
    '$(touch pwned)',
    '`touch pwned`',
    "';touch pwned;'",
    '";touch pwned;"',
    '|touch pwned|',
    '&touch pwned&',
    '<pwned>',
    '$HOME${IFS}$((1+1))',
    '\\',
    '-rf --',
    '!(x)',
]
LONG = 'x' * (255 - len('ssh-'))  # NAME_MAX

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='making files of another user needs root')


@pytest.fixture
def tmp_tree(env):
    """The private /tmp of the scripts: what a test made there is removed after it."""
    if not env.namespaced:
        pytest.skip('no private /tmp (unshare): hostile names are never made in the host /tmp')
    before = set(os.listdir(env.tmp))
    yield env
    for name in set(os.listdir(env.tmp)) - before:
        remove(os.path.join(env.tmp, name))


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def pwned(env):
    """Files a name would have created, had any shell run it (cwd: the home, or ours)."""
    places = [env.home, env.ssh, env.real('/tmp'), '/', os.getcwd()]
    return [p for p in (os.path.join(place, 'pwned') for place in places) if os.path.lexists(p)]


class Scene:
    """Hostile entries in the scripts' /tmp; paths are as the scripts see them."""

    def __init__(self, env):
        self.env = env
        self.hostile = []

    def mkdir(self, path, mode=0o700, uid=0):
        real = self.env.real(path)
        os.mkdir(real)
        os.chmod(real, mode)
        os.lchown(real, uid, uid)
        return path

    def foreign(self, name, dirname, tty=True, dir_uid=NOBODY):
        """A live agent of another user, its session's sshd running, in /tmp/<dirname> (a
        directory of that user, or of ours)."""
        sess = self.env.session(name, tty=tty)
        moved = '/tmp/' + dirname
        os.rename(sess.real_dir, self.env.real(moved))
        sess.dir, sess.sock = moved, moved + '/' + os.path.basename(sess.sock)
        os.lchown(sess.real, NOBODY, NOBODY)
        os.lchown(sess.real_dir, dir_uid, dir_uid)
        self.hostile.append(sess.sock)
        return sess

    def fifo(self, path, uid=0):
        os.mkfifo(self.env.real(path), 0o600)
        os.lchown(self.env.real(path), uid, uid)
        self.hostile.append(path)

    def script(self, path, uid=0):
        """An executable regular file that would leave a mark if anything ran it."""
        with open(self.env.real(path), 'w') as handle:
            handle.write('#!/bin/sh\ntouch /tmp/pwned "$HOME/pwned"\n')
        os.chmod(self.env.real(path), 0o755)
        os.lchown(self.env.real(path), uid, uid)
        self.hostile.append(path)

    def symlink(self, target, path, uid=0):
        """target: relative, so that it leads to the same file inside and outside the private /tmp."""
        assert not target.startswith('/')
        os.symlink(target, self.env.real(path))
        os.lchown(self.env.real(path), uid, uid)
        self.hostile.append(path)


def crowd(env):
    """The dead owner, then everything hostile, then the user's live laptop and this login.
    Returns (laptop, new, scene)."""
    owner = env.session('owner', tty=True)
    env.login(['dash'], owner, tty=True)
    owner.kill_sshd()
    scene = Scene(env)
    # Another user's live agents, under names that mean something to a shell.
    for i, payload in enumerate(PAYLOADS):
        scene.foreign('foreign%d' % i, 'ssh-' + payload)
    scene.foreign('foreign-long', 'ssh-' + LONG)
    # ...and one in a private directory of ours (root chowned it, say): only its owner tells.
    scene.foreign('foreign-in-ours', 'ssh-!theirs-in-ours', dir_uid=0)
    # A live agent of ours in a directory anyone may write (and one with the sticky bit).
    for mode in (0o777, 0o1777):
        shared = env.session('shared%o' % mode, tty=True)
        os.chmod(shared.real_dir, mode)
        scene.hostile.append(shared.sock)
    time.sleep(0.05)  # every hostile session started before the laptop's (10 ms clock ticks)
    laptop = env.session('laptop', tty=True)
    pid = os.path.basename(laptop.sock).split('.')[-1]
    # Another user's directory that is a symlink to ours: sorted first, same session as the laptop.
    scene.symlink(os.path.basename(laptop.dir), '/tmp/ssh- evil', uid=NOBODY)
    scene.hostile.remove('/tmp/ssh- evil')
    scene.hostile.append('/tmp/ssh- evil/agent.' + pid)
    # Another user's symlink to our live socket, named like one.
    scene.mkdir('/tmp/ssh-!symlink', uid=NOBODY)
    scene.symlink('../' + os.path.relpath(laptop.sock, '/tmp'), '/tmp/ssh-!symlink/agent.' + pid, uid=NOBODY)
    # Loops: a directory that is a symlink to itself, a socket name that is, two that point at each other.
    scene.symlink('ssh-!loop', '/tmp/ssh-!loop')
    scene.mkdir('/tmp/ssh-!loops')
    scene.symlink('agent.' + pid, '/tmp/ssh-!loops/agent.' + pid)
    scene.symlink('agent.2', '/tmp/ssh-!loops/agent.1')
    scene.symlink('agent.1', '/tmp/ssh-!loops/agent.2')
    # FIFOs, executable files and a directory named like the laptop's socket: in a private
    # directory of ours (only -S tells them apart) and in one of another user.
    for uid in (0, NOBODY):
        tag = 'ours' if uid == 0 else 'theirs'
        scene.mkdir('/tmp/ssh-!fifo-' + tag, uid=uid)
        scene.fifo('/tmp/ssh-!fifo-%s/agent.%s' % (tag, pid), uid=uid)
        scene.mkdir('/tmp/ssh-!file-' + tag, uid=uid)
        scene.script('/tmp/ssh-!file-%s/agent.%s' % (tag, pid), uid=uid)
        scene.mkdir('/tmp/ssh-!dir-' + tag, uid=uid)
        scene.mkdir('/tmp/ssh-!dir-%s/agent.%s' % (tag, pid), uid=uid)
        scene.hostile.append('/tmp/ssh-!dir-%s/agent.%s' % (tag, pid))
    # FIFOs of another user under names OpenSSH never makes (no pid, a command, a glob).
    scene.mkdir('/tmp/ssh-!names', uid=NOBODY)
    for name in ('agent.$(touch pwned)', 'agent.1;touch pwned', 'agent.-1', 'agent.' + '9' * 200, 'agent.*'):
        scene.fifo('/tmp/ssh-!names/' + name, uid=NOBODY)
    new = env.session('new')
    return laptop, new, scene


def untouched(env, scene, result):
    assert not pwned(env), 'a name was run: %s' % pwned(env)
    assert env.target() not in scene.hostile
    assert result.elapsed < BOUND, 'took %.1f s' % result.elapsed


# ---------------------------------------------------------------- the keeper

def test_login_scan_passes_over_hostile_names(tmp_tree, shell):
    env = tmp_tree
    laptop, new, scene = crowd(env)
    result = env.login(shell, new, timeout=RUN_TIMEOUT)
    untouched(env, scene, result)
    assert env.target() == laptop.sock
    assert env.owner() == ['tty', laptop.sock]
    assert env.through_link() == ['laptop']


def test_prompt_passes_over_hostile_names(tmp_tree, shell):
    env = tmp_tree
    laptop, dummy, scene = crowd(env)
    os.unlink(env.real(env.target()))  # the dead owner's socket file is gone too
    result = env.hook(shell, 'prompt', timeout=RUN_TIMEOUT)
    untouched(env, scene, result)
    assert env.target() == laptop.sock
    assert env.through_link() == ['laptop']


def attaching(env, sock):
    """A stand-in tmux client whose SSH_AUTH_SOCK is sock."""
    return env.spawn(['sleep', '300'], {'PATH': '/usr/bin:/bin', 'SSH_AUTH_SOCK': sock})


def deep_path(env):
    """A socket of ours (in private directories of ours) at a path of nearly PATH_MAX bytes:
    too long to connect to."""
    sess = env.session('deep', tty=True)
    path = '/tmp/ssh-!deep'
    os.mkdir(env.real(path), 0o700)
    while len(env.real(path)) < 4096 - 2 * 255:
        path += '/' + 'd' * 250
        os.mkdir(env.real(path), 0o700)
    deep = path + '/' + os.path.basename(sess.sock)
    os.rename(sess.real, env.real(deep))
    return deep


def test_attach_with_hostile_client_socket_changes_nothing(tmp_tree, shell):
    env = tmp_tree
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    scene = Scene(env)
    foreign = scene.foreign('foreign', 'ssh-$(touch pwned)')
    # A path that holds a slash in its "command": /tmp/ssh-$(touch /tmp/pwned)/agent.<pid>.
    scene.mkdir('/tmp/ssh-$(touch ', uid=NOBODY)
    scene.mkdir('/tmp/ssh-$(touch /tmp', uid=NOBODY)
    scene.mkdir('/tmp/ssh-$(touch /tmp/pwned)', uid=NOBODY)
    nested = '/tmp/ssh-$(touch /tmp/pwned)/' + os.path.basename(foreign.sock)
    os.rename(foreign.real, env.real(nested))
    scene.hostile.append(nested)
    laptop = env.session('laptop', tty=True)
    pid = os.path.basename(laptop.sock).split('.')[-1]
    scene.mkdir('/tmp/ssh-!fifo')
    scene.fifo('/tmp/ssh-!fifo/agent.' + pid)
    scene.mkdir('/tmp/ssh-!loop')
    scene.symlink('agent.' + pid, '/tmp/ssh-!loop/agent.' + pid)
    shared = env.session('shared', tty=True)
    os.chmod(shared.real_dir, 0o777)
    scene.symlink(os.path.basename(laptop.dir), '/tmp/ssh- evil', uid=NOBODY)
    clients = [nested, '/tmp/ssh-!fifo/agent.' + pid, '/tmp/ssh-!loop/agent.' + pid, shared.sock,
               '/tmp/ssh- evil/agent.' + pid, deep_path(env), '/tmp/' + 'x/' * 2100 + 'agent.' + pid,
               '-rf', '--help', '-', '-n', '*', '$(touch pwned)', 'agent.' + pid]
    for sock in clients:
        result = env.hook(shell, 'attach', attaching(env, sock).pid, timeout=RUN_TIMEOUT)
        untouched(env, scene, result)
        assert result.stderr == b'', (sock, result.stderr)
        assert env.target() == owner.sock, sock
        assert env.owner() == ['tty', owner.sock]


def test_own_agent_under_a_name_full_of_metacharacters_is_linked_never_run(tmp_tree, shell):
    """A name is data: the user's own live agent in such a directory (or, from OpenSSH 10.1,
    with such a name in ~/.ssh/agent) is an agent like any other; nothing in its name runs on
    the way (probe, private-directory check, link, state file)."""
    env = tmp_tree
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    odd = env.session('odd', tty=True)
    moved = '/tmp/ssh-$(touch pwned);`touch pwned`|&<>*?[x]\'"\\'
    os.rename(odd.real_dir, env.real(moved))
    odd.dir, odd.sock = moved, moved + '/' + os.path.basename(odd.sock)
    new = env.session('new')
    result = env.login(shell, new, timeout=RUN_TIMEOUT)
    assert not pwned(env)
    assert result.elapsed < BOUND
    assert env.target() == odd.sock
    assert env.through_link() == ['odd']

    home = env.session('home', tty=True, layout='home')
    parts = os.path.basename(home.sock).split('.')
    # The hostname hash stays this host's (another's is never a candidate): the rest is hostile.
    named = os.path.join(home.dir, 's.%s.sshd.%s.;touch pwned;`x` $(touch pwned) *' % (parts[1], parts[3]))
    os.rename(home.real, named)
    home.sock = named
    odd.kill_sshd()
    later = env.session('later')
    result = env.login(shell, later, timeout=RUN_TIMEOUT)
    assert not pwned(env)
    assert env.target() == named
    assert env.through_link() == ['home']


# ---------------------------------------------------------------- the module

def search(env):
    """The module's default search patterns, as seen from outside the private /tmp."""
    return [env.real('/tmp') + '/ssh-*/agent.*', env.home + '/.ssh/agent/s.*.sshd.*']


def test_module_passes_over_hostile_names(tmp_tree):
    env = tmp_tree
    laptop, dummy, scene = crowd(env)
    started = time.monotonic()
    result = auth_sock.ensure_present(env.link, search(env), timeout=0.5, host_dir=env.hostdir)
    assert time.monotonic() - started < BOUND
    assert not pwned(env)
    assert result['status'] == 'repaired', result
    assert result['target'] == laptop.real
    by_path = dict((c['path'], c) for c in result['candidates'])
    for path in scene.hostile:
        entry = by_path.get(env.real(path))
        if entry is not None:
            assert entry['alive'] is None, entry  # never even probed
    assert by_path[env.real('/tmp/ssh- evil/agent.' + laptop.sock.split('.')[-1])]['reason'] == \
        'directory is a symlink'


@pytest.mark.parametrize('what', ['foreign', 'fifo', 'loop', 'symlinked-dir', 'shared-dir', 'script'])
def test_module_replaces_link_to_hostile_name(tmp_tree, what):
    env = tmp_tree
    scene = Scene(env)
    laptop = env.session('laptop', tty=True)
    pid = laptop.sock.split('.')[-1]
    if what == 'foreign':
        target = scene.foreign('foreign', 'ssh-$(touch pwned)').sock
    elif what == 'fifo':
        scene.mkdir('/tmp/ssh-!fifo')
        target = '/tmp/ssh-!fifo/agent.' + pid
        scene.fifo(target)
    elif what == 'loop':
        scene.mkdir('/tmp/ssh-!loop')
        target = '/tmp/ssh-!loop/agent.' + pid
        scene.symlink('agent.' + pid, target)
    elif what == 'symlinked-dir':
        scene.symlink(os.path.basename(laptop.dir), '/tmp/ssh- evil', uid=NOBODY)
        target = '/tmp/ssh- evil/agent.' + pid
    elif what == 'shared-dir':
        shared = env.session('shared', tty=True)
        os.chmod(shared.real_dir, 0o777)
        target = shared.sock
    else:
        scene.mkdir('/tmp/ssh-!file')
        target = '/tmp/ssh-!file/agent.' + pid
        scene.script(target)
    env.point(env.real(target))
    started = time.monotonic()
    result = auth_sock.ensure_present(env.link, search(env), timeout=0.5, host_dir=env.hostdir)
    assert time.monotonic() - started < BOUND
    assert not pwned(env)
    assert result['reason'] not in (None, 'refused'), result
    assert result['target'] == laptop.real


def test_fifo_named_like_a_socket_blocks_nobody(tmp_tree):
    """The module's probe of a FIFO (were it ever trusted) is refused at once: connecting to a
    FIFO never opens it."""
    scene = Scene(tmp_tree)
    scene.mkdir('/tmp/ssh-!fifo')
    scene.fifo('/tmp/ssh-!fifo/agent.1')
    started = time.monotonic()
    probe = agent_link.probe_agent(tmp_tree.real('/tmp/ssh-!fifo/agent.1'), 5.0)
    assert time.monotonic() - started < 1
    assert probe == agent_link.Probe(False, None, 'refused')
