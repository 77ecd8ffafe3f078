# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The link's state and lock files as the user's own mistakes leave them.

<link>.owner holding garbage, 50 MB, a line of a megabyte, a command; a directory; a symlink to
a directory or to /dev/zero; a FIFO. <link>.lock as a regular file, a directory, a symlink to a
directory, to a number too large for a pid or to garbage. The next login (each shell) and the
module ignore or repair them and never hang: every run is bounded well below the conftest's
kill timeout, and the link ends up on the live owner.

What is the user's is never removed: a directory or a regular file in place of the state file
or the lock is left as it is (and nothing is put inside a directory). A state file the keeper or
the module rewrites anyway (after a relink) replaces a garbage file, a FIFO or a symlink; the
symlink's target (/dev/zero, a directory) is never written to. A lock symlink that names no
live process (garbage, a number no pid can have) is broken, as a stale lock is.
"""

from __future__ import annotations

import functools
import os
import random
import stat
import threading
import time

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils import agent_link
from ansible_collections.happyssh.agent.plugins.modules import auth_sock

# A login that relinks takes well under a second; 20 s is the conftest's kill timeout. A read
# that blocks on a FIFO or never ends on /dev/zero lands between the two.
BOUND = 5
RUN_TIMEOUT = 15
HUGE = 50 * 1024 * 1024
# A line read to its end costs the shells' read builtins (a byte at a time): busybox
# about 1 s a MiB, dash and mksh 0.5 s (bash and posh far less).
LONG_LINE = 256 * 1024

STATE_MISTAKES = ['garbage', 'command', 'huge', 'long-line', 'empty', 'directory', 'dir-symlink', 'dev-zero',
                  'fifo']
LOCK_MISTAKES = ['file', 'directory', 'dir-symlink', 'huge-number', 'negative', 'garbage', 'dot', 'proc-entry']


@functools.lru_cache(maxsize=1)
def huge_garbage():
    """50 MB of binary garbage (a copied image, say): lines of every length, NUL bytes."""
    return random.Random(12).randbytes(HUGE)


def make_state(env, what, owner_sock):
    """Put what in place of <link>.owner (owner_sock: the link's current target)."""
    path = env.state
    if os.path.lexists(path):
        os.unlink(path)
    if what == 'garbage':
        with open(path, 'wb') as handle:
            handle.write(b'\x00\xff\xfe tty\t\x1b[31m /etc/passwd notty\n' + bytes(range(256)) + b'\nmanual /\n')
    elif what == 'command':
        with open(path, 'w') as handle:
            handle.write('$(touch pwned) %s `touch pwned`\n' % owner_sock)
    elif what == 'huge':
        with open(path, 'wb') as handle:
            handle.write(huge_garbage())
    elif what == 'long-line':
        with open(path, 'wb') as handle:
            handle.write(b'tty ' + b'x' * LONG_LINE)
    elif what == 'empty':
        open(path, 'wb').close()
    elif what == 'directory':
        os.mkdir(path)
    elif what == 'dir-symlink':
        os.mkdir(os.path.join(env.home, 'somedir'))
        os.symlink(os.path.join(env.home, 'somedir'), path)
    elif what == 'dev-zero':
        os.symlink('/dev/zero', path)
    else:
        os.mkfifo(path, 0o600)


def make_lock(env, what):
    """Put what in place of <link>.lock."""
    if what == 'file':
        with open(env.lock, 'w') as handle:
            handle.write('%d\n' % os.getpid())
    elif what == 'directory':
        os.mkdir(env.lock)
    elif what == 'dir-symlink':
        os.mkdir(os.path.join(env.home, 'somedir'))
        os.symlink(os.path.join(env.home, 'somedir'), env.lock)
    else:
        os.symlink({'huge-number': '9' * 30, 'negative': '-1', 'garbage': 'no pid\n$(touch pwned)', 'dot': '.',
                    'proc-entry': 'self'}[what], env.lock)


def users_own(env, what, path):
    """What is the user's at path is as it was: nothing removed, nothing put inside a directory,
    nothing written through a symlink, no name run."""
    if what == 'directory':
        assert os.path.isdir(path) and not os.path.islink(path)
        assert os.listdir(path) == []
    if what == 'dir-symlink':
        assert os.listdir(os.path.join(env.home, 'somedir')) == []
    if what == 'file':
        with open(path) as handle:
            assert handle.read() == '%d\n' % os.getpid()
    assert stat.S_ISCHR(os.stat('/dev/zero').st_mode)
    assert not [p for p in (os.path.join(env.home, 'pwned'), os.path.join(env.ssh, 'pwned')) if os.path.lexists(p)]
    # No litter of a lock made inside a directory (ln -s PID DIR makes DIR/PID).
    assert [n for n in os.listdir(env.ssh) if n.isdigit()] == []


def regular_state(env, kind, target):
    assert stat.S_ISREG(os.lstat(env.state).st_mode)
    assert env.owner() == [kind, target]


def tolerate_lock(env, what):
    """conftest checks after every run that the lock is gone; a file or directory the user put
    there is not ours to remove."""
    if what in ('file', 'directory'):
        env.lock_is_foreign = lambda: os.path.lexists(env.lock) and not os.path.islink(env.lock)


# ---------------------------------------------------------------- the keeper

@pytest.mark.parametrize('what', STATE_MISTAKES)
def test_login_with_broken_state_file_keeps_live_owner(env, shell, what):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    make_state(env, what, owner.sock)
    new = env.session('new')
    result = env.login(shell, new, timeout=RUN_TIMEOUT)
    assert result.elapsed < BOUND, 'took %.1f s' % result.elapsed
    assert env.target() == owner.sock
    assert env.through_link() == ['owner']
    users_own(env, what, env.state)
    # A tty login reads it too (and probes the owner) before it keeps the link.
    again = env.session('again', tty=True)
    result = env.login(shell, again, tty=True, timeout=RUN_TIMEOUT)
    assert result.elapsed < BOUND, 'took %.1f s' % result.elapsed
    assert env.target() == owner.sock


@pytest.mark.parametrize('what', STATE_MISTAKES)
def test_login_with_broken_state_file_relinks_and_repairs_it(env, shell, what):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    make_state(env, what, owner.sock)
    new = env.session('new', tty=True)
    result = env.login(shell, new, tty=True, timeout=RUN_TIMEOUT)
    assert result.elapsed < BOUND, 'took %.1f s' % result.elapsed
    assert env.target() == new.sock
    assert env.through_link() == ['new']
    users_own(env, what, env.state)
    if what != 'directory':
        regular_state(env, 'tty', new.sock)
    later = env.session('later')
    result = env.login(shell, later, timeout=RUN_TIMEOUT)
    assert result.elapsed < BOUND
    assert env.target() == new.sock


@pytest.mark.parametrize('what', LOCK_MISTAKES)
def test_login_with_broken_lock_relinks(env, shell, what):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    make_lock(env, what)
    tolerate_lock(env, what)
    new = env.session('new', tty=True)
    result = env.login(shell, new, tty=True, timeout=RUN_TIMEOUT)
    assert result.elapsed < BOUND, 'took %.1f s' % result.elapsed
    assert result.stderr == b'', result.stderr
    linked = env.target(), env.owner()
    assert linked == (new.sock, ['tty', new.sock])
    users_own(env, what, env.lock)
    if what not in ('file', 'directory'):
        assert not os.path.lexists(env.lock), 'a lock naming no live process was not broken'


# ---------------------------------------------------------------- the module

def bounded(seconds, function, *args, **kwargs):
    """function(*args, **kwargs) in a thread; fails when it has not returned after seconds."""
    outcome = {}

    def call():
        try:
            outcome['result'] = function(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            outcome['raised'] = exc

    worker = threading.Thread(target=call, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), '%s still running after %s s' % (function.__name__, seconds)
    if 'raised' in outcome:
        raise outcome['raised']
    return outcome['result'], time.monotonic() - started


def dead_link(env):
    """The link on an agent whose session is gone, and the user's live laptop."""
    owner = env.session('owner', tty=True)
    env.point(owner.real)
    owner.kill_sshd()
    return env.session('laptop', tty=True)


def repair(env):
    warnings = []
    search = [env.real('/tmp') + '/ssh-*/agent.*', env.home + '/.ssh/agent/s.*.sshd.*']
    result, elapsed = bounded(RUN_TIMEOUT, auth_sock.ensure_present, env.link, search, timeout=0.5,
                              warn=warnings.append, host_dir=env.hostdir)
    return result, elapsed, warnings


@pytest.mark.parametrize('what', STATE_MISTAKES)
def test_module_with_broken_state_file_repairs(env, what):
    laptop = dead_link(env)
    make_state(env, what, env.target())
    result, elapsed, warnings = repair(env)
    assert elapsed < BOUND
    assert (result['status'], result['target']) == ('repaired', laptop.real)
    assert env.target() == laptop.real
    users_own(env, what, env.state)
    if what == 'directory':
        assert 'could not write' in ' '.join(warnings)
    else:
        assert warnings == []
        regular_state(env, 'manual', laptop.real)


@pytest.mark.parametrize('what', LOCK_MISTAKES)
def test_module_with_broken_lock_repairs(env, what):
    laptop = dead_link(env)
    make_lock(env, what)
    result, elapsed, warnings = repair(env)
    assert elapsed < agent_link.LOCK_WAIT + BOUND
    assert (result['status'], result['target']) == ('repaired', laptop.real)
    assert env.target() == laptop.real
    users_own(env, what, env.lock)
    if what in ('file', 'directory'):
        assert os.path.lexists(env.lock) and not os.path.islink(env.lock)
    else:
        assert not os.path.lexists(env.lock), 'a lock naming no live process was not broken'
        assert warnings == []
