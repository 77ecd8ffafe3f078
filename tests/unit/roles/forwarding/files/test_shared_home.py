# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One home, several hosts (docs/protocol.md, "Hosts sharing a home"): each host keeps its own link,
state and lock in its own directory, the link in the home is the same bytes from every host, and
another host's sockets in the shared ~/.ssh/agent (OpenSSH >= 10.1) are never candidates.

The second host (Env.other_host) has its own /tmp and hostname but shares this host's pids, so
every pid named by the other host's sockets looks alive here: the collision the protocol must
survive. The Molecule scenario shared_home runs the same story on two real hosts."""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils.agent_link import host_hash
from ansible_collections.happyssh.agent.plugins.modules import auth_sock

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root')


def home_link(env):
    return os.readlink(env.link)


def test_a_login_on_another_host_leaves_this_hosts_link(env, shell):
    laptop = env.session('laptop', tty=True)
    env.login(shell, laptop, tty=True)
    state = env.owner()
    with env.other_host():
        short = env.session('short-b')
        env.login(shell, short)
        assert env.target() == short.sock
        interactive = env.session('interactive-b', tty=True)
        env.login(shell, interactive, tty=True)
        assert env.target() == interactive.sock
    # The home's link is the same bytes from both hosts; this host's link, state and agent are untouched.
    assert home_link(env) == env.host_link
    assert env.target() == laptop.sock
    assert env.owner() == state
    assert env.through_link() == ['laptop']


@pytest.mark.parametrize('tty', [False, True], ids=['notty', 'tty'])
def test_other_hosts_sockets_in_the_shared_agent_directory_are_never_linked(env, shell, tty):
    """OpenSSH >= 10.1: the other host's live tty socket (its pid alive here, its agent answering)
    would win any choice; it carries the other host's hash, so it is never even listed."""
    owner = env.session('owner', layout='home')
    env.login(shell, owner)
    owner.kill_sshd()
    foreign = env.session('other-host-laptop', tty=True, layout='home', host='hostb')
    assert os.path.basename(foreign.sock).split('.')[1] == host_hash('hostb')
    new = env.session('new', tty=tty, layout='home')
    env.login(shell, new, tty=tty)
    assert env.target() == new.sock
    assert env.through_link() == ['new']


def test_a_current_owner_of_another_host_counts_as_dead(env, shell):
    """A link of this host that somehow names another host's socket (its pid alive here) is not
    kept: its pid means nothing on this host."""
    foreign = env.session('other-host', tty=True, layout='home', host='hostb')
    os.symlink(foreign.sock, env.sock)
    os.symlink(env.host_link, env.link)
    with open(env.state, 'w') as handle:
        handle.write('notty %s\n' % foreign.sock)
    own = env.session('own', layout='home')
    env.login(shell, own)
    assert env.target() == own.sock


def test_the_keeper_computes_this_hosts_hash_as_openssh_does(env, shell):
    """The prompt hook has no socket of its own to read the hash from: it computes it (SHA-512 of the
    hostname) and must find this host's socket, not the other host's, on both hosts."""
    with env.other_host('node-17.cluster.example'):
        mine = env.session('b-laptop', tty=True, layout='home', host='node-17.cluster.example')
        env.session('a-laptop', tty=True, layout='home')
        env.hook(shell, 'prompt')
        assert env.target() == mine.sock
    env.hook(shell, 'prompt')
    assert env.through_link() == ['a-laptop']


def test_a_lock_on_one_host_never_holds_back_the_other(env, shell):
    holder = subprocess.Popen(['sleep', '60'])
    try:
        os.symlink(str(holder.pid), env.lock)
        env.foreign_lock = str(holder.pid)
        # 0.2.0 kept its lock beside the link in the home, where every host saw it.
        os.symlink(str(holder.pid), env.link + '.lock')
        with env.other_host():
            env.foreign_lock = None
            own = env.session('b-own')
            result = env.login(shell, own)
            assert env.target() == own.sock
            assert b'lock' not in result.stderr
        assert os.readlink(env.lock) == str(holder.pid)
        assert os.readlink(env.link + '.lock') == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()


def test_upgrade_from_a_link_in_the_home_keeps_its_live_owner(env, shell):
    """0.2.0 (and the blog's recipe) pointed the home's link at the socket itself: the first login
    after the upgrade keeps that owner, now through this host's link."""
    laptop = env.session('laptop', tty=True)
    os.symlink(laptop.sock, env.link)
    short = env.session('short')
    env.login(shell, short)
    assert home_link(env) == env.host_link
    assert env.target() == laptop.sock
    assert env.through_link() == ['laptop']


def test_missing_host_directory_is_made_private(env, shell):
    os.rmdir(env.hostdir)
    own = env.session('own')
    env.login(shell, own)
    assert os.stat(env.hostdir).st_mode & 0o777 == 0o700
    assert env.target() == own.sock


@needs_root
@pytest.mark.parametrize('how', ['other-owner', 'group-writable', 'symlink'])
def test_host_directory_that_is_not_private_is_never_used(env, shell, how):
    """Another user who made /tmp/happyssh-<user> first (or a directory others may write to) must
    not get the user's panes: the keeper keeps nothing there and says so to a person."""
    if how == 'other-owner':
        os.chown(env.hostdir, NOBODY, NOBODY)
    elif how == 'group-writable':
        os.chmod(env.hostdir, 0o770)
    else:
        os.rmdir(env.hostdir)
        elsewhere = tempfile.mkdtemp(dir=os.path.dirname(env.hostdir))
        os.symlink(elsewhere, env.hostdir)
    own = env.session('own', tty=True)
    result = env.login(shell, own, tty=True)
    assert b'not a private directory' in result.stderr
    assert not os.path.lexists(env.link)
    assert os.listdir(env.hostdir) == []
    if how == 'symlink':
        os.unlink(env.hostdir)
        os.rmdir(elsewhere)


def test_module_never_chooses_another_hosts_socket(env):
    owner = env.session('owner', layout='home')
    env.point(owner.real)
    owner.kill_sshd()
    env.session('other-host-laptop', tty=True, layout='home', host='hostb')
    editor = env.session('editor', layout='home')
    result = auth_sock.ensure_present(env.link, [env.home + '/.ssh/agent/s.*.sshd.*'], timeout=2.0,
                                      host_dir=env.hostdir)
    assert result['target'] == editor.real
    reasons = {os.path.basename(c['path']).split('.')[3]: c['reason'] for c in result['candidates']}
    assert 'socket of another host' in reasons.values()


def test_module_and_keeper_agree_on_the_home_link(env, shell):
    """Whoever writes it, the home's link leads to this host's link, and a keeper run after the
    module keeps the module's choice (no flip-flop between them)."""
    laptop = env.session('laptop', tty=True)
    os.symlink(laptop.real, env.link)
    result = auth_sock.ensure_present(env.link, [env.real('/tmp') + '/ssh-*/agent.*'], timeout=2.0,
                                      host_dir=env.hostdir)
    assert (result['status'], result['changed'], result['target']) == ('ok', True, laptop.real)
    assert env.target() == laptop.real
    env.login(shell, env.session('short'))
    assert env.through_link() == ['laptop']
