# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""docs/protocol.md, once for both sides: each case sets up the same sessions (real ssh-agents,
stand-in sshds) around a link whose owner is gone, then asks the shell keeper (a non-interactive
login under each shell) and the module auth_sock (in-process) which socket the link must lead
to. Both must choose the same one."""

from __future__ import annotations

import os

import pytest

from ansible_collections.happyssh.agent.plugins.modules import auth_sock

NOBODY = 65534


def sessions_tty_first(env):
    env.session('older-notty')
    env.session('laptop', tty=True)
    return 'laptop'


def sessions_longest_lived(env):
    env.session('editor')
    env.session('younger')
    return 'editor'


def sessions_oldest_tty(env):
    env.session('first-laptop', tty=True)
    env.session('second-laptop', tty=True)
    return 'first-laptop'


def sessions_hung_tty(env):
    env.session('laptop', tty=True).hang()
    env.session('editor')
    return 'editor'


def sessions_other_user(env):
    foreign = env.session('foreign', tty=True)
    os.chown(foreign.real, NOBODY, NOBODY)
    env.session('editor')
    return 'editor'


def sessions_shared_directory(env):
    shared = env.session('shared', tty=True)
    os.chmod(shared.real_dir, 0o777)
    env.session('editor')
    return 'editor'


def sessions_hop(env):
    env.session('hop', tty=True, connection=env.local_client(env.link))
    env.session('editor')
    return 'editor'


def sessions_new_layout(env):
    env.session('editor', layout='home')
    env.session('laptop', tty=True, layout='home')
    return 'laptop'


CASES = [sessions_tty_first, sessions_longest_lived, sessions_oldest_tty, sessions_hung_tty,
         sessions_other_user, sessions_shared_directory, sessions_hop, sessions_new_layout]


def dead_owner(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    return owner


def module_search(env):
    """The module's own default search patterns, as they read in this test's home and /tmp, so a
    wrong default fails here instead of hiding behind patterns written out by hand."""
    return [pattern.replace('/tmp/', env.real('/tmp') + '/', 1).replace('~/', env.home + '/', 1)
            for pattern in auth_sock.DEFAULT_SEARCH]


def chosen(env, path):
    by_path = dict((sess.sock, sess.name) for sess in env.sessions)
    by_path.update((sess.real, sess.name) for sess in env.sessions)
    return by_path.get(path, path)


@pytest.mark.parametrize('case', CASES, ids=[c.__name__[len('sessions_'):] for c in CASES])
def test_keeper_chooses(env, shell, case):
    dead_owner(env, shell)
    expected = case(env)
    new = env.session('new')
    env.login(shell, new)
    assert chosen(env, env.target()) == expected


@pytest.mark.parametrize('case', CASES, ids=[c.__name__[len('sessions_'):] for c in CASES])
def test_module_chooses(env, case):
    dead_owner(env, ['dash'])
    expected = case(env)
    result = auth_sock.ensure_present(env.link, module_search(env), timeout=2.0, host_dir=env.hostdir)
    assert result['status'] == 'repaired', result
    assert chosen(env, result['target']) == expected


def test_module_never_keeps_a_link_into_a_loop(env):
    hop = env.session('hop', tty=True, connection=env.local_client(env.link))
    editor = env.session('editor')
    env.point(hop.real)
    result = auth_sock.ensure_present(env.link, module_search(env), timeout=2.0, host_dir=env.hostdir)
    assert result['reason'] == 'leads back to the link'
    assert result['target'] == editor.real
    hop_entry = [c for c in result['candidates'] if c['path'] == hop.real]
    assert hop_entry and hop_entry[0]['reason'] == 'leads back to the link', result['candidates']
