# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`happyssh status` and `happyssh repair`, run from a pane against real agents in each state the
protocol knows: owner alive, dead, frozen, no agent, a pane older than the role, a hop loop."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from keeper_env import PATH, USER  # pylint: disable=import-error

from homes import ROOT  # pylint: disable=import-error
COMMAND = os.path.join(ROOT, 'roles', 'forwarding', 'files', 'happyssh')


def run(env, shell, sub, sock, extra=None, timeout=20):
    """Run the installed command as a user in a pane does: sh ~/.ssh/happyssh/happyssh SUB."""
    installed = os.path.join(env.ssh, 'happyssh', 'happyssh')
    shutil.copy(COMMAND, installed)
    variables = {'HOME': env.home, 'PATH': PATH, 'USER': USER, 'LOGNAME': USER, 'SHELL': '/bin/sh',
                 'SSH_AUTH_SOCK': sock}
    variables.update(extra or {})
    argv = ['env', '-i'] + ['%s=%s' % item for item in sorted(variables.items())] + shell + [installed, sub]
    started = time.monotonic()
    result = subprocess.run(env._wrap(argv), capture_output=True, text=True, timeout=timeout,  # pylint: disable=protected-access
                            check=False, cwd=env.home)
    result.elapsed = time.monotonic() - started
    assert not os.path.lexists(env.lock), 'lock left behind'
    return result


def todo(result):
    return [line for line in result.stdout.splitlines() if line.startswith('to do:')][0]


def test_working_pane(env, shell):
    own = env.session('own', tty=True)
    env.login(shell, own, tty=True)
    result = run(env, shell, 'status', env.link)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '(the link)' in result.stdout
    assert 'recorded tty, now tty' in result.stdout
    assert 'answers' in result.stdout
    assert 'the agent works' in todo(result)
    # A count, never key material or fingerprints.
    print(result.stdout)
    for material in ('SHA256:', 'ssh-ed25519', 'ssh-rsa', 'ecdsa-'):
        assert material not in result.stdout


def test_dead_owner_with_live_candidate(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    other = env.session('other', tty=True)
    owner.kill_sshd()
    result = run(env, shell, 'status', env.link)
    assert result.returncode != 0
    assert 'is gone' in result.stdout
    assert 'stale: its sshd is gone' in result.stdout
    assert 'happyssh repair' in todo(result)
    assert env.target() == owner.sock
    repaired = run(env, shell, 'repair', env.link)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert env.target() == other.sock
    assert env.owner() == ['tty', other.sock]
    assert run(env, shell, 'status', env.link).returncode == 0


def test_frozen_owner(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.hang()
    result = run(env, shell, 'status', env.link, extra={'hs_timeout': '1'})
    assert result.returncode != 0
    assert 'does not answer within 1s' in result.stdout
    assert 'does not answer: wake it' in todo(result)
    # One probe of the owner and one as a candidate, each bounded.
    assert result.elapsed < 6


def test_no_agent(env, shell):
    result = run(env, shell, 'status', '')
    assert result.returncode != 0
    assert 'SSH_AUTH_SOCK is not set' in result.stdout
    assert 'no forwarded agent is connected' in todo(result)
    assert '  (none)' in result.stdout
    repaired = run(env, shell, 'repair', '')
    assert repaired.returncode != 0
    assert env.target() is None


def test_pane_older_than_the_role(env, shell):
    gone = env.session('gone', tty=True)
    own = env.session('own', tty=True)
    env.login(shell, own, tty=True)
    gone.kill_sshd()
    gone.remove()
    result = run(env, shell, 'status', gone.sock)
    assert result.returncode != 0
    assert '(not the link' in result.stdout
    assert 'export SSH_AUTH_SOCK=%s' % env.link in todo(result)


def test_hop_loop_is_named(env, shell):
    own = env.session('own', tty=True)
    env.login(shell, own, tty=True)
    hop = env.session('hop', tty=True, connection=env.local_client(env.link))
    result = run(env, shell, 'status', env.link)
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if hop.sock in line]
    assert lines and 'loop' in lines[0], result.stdout
