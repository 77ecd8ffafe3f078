# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An owner recorded tty whose sshd is now titled user@notty (a ControlMaster kept by
ControlPersist after its last session ended) is ranked by what its sshd is now."""

from __future__ import annotations


def test_tty_login_takes_over_from_idle_master(env, shell):
    # Logged in with a terminal (recorded tty), its sshd now says notty: the idle master.
    master = env.session('master', tty=False)
    env.login(shell, master, tty=True)
    assert env.owner() == ['tty', master.sock]
    new = env.session('new', tty=True)
    env.login(shell, new, tty=True)
    assert env.target() == new.sock
    assert env.owner() == ['tty', new.sock]


def test_notty_login_keeps_idle_master(env, shell):
    master = env.session('master', tty=False)
    env.login(shell, master, tty=True)
    new = env.session('new', tty=False)
    env.login(shell, new)
    assert env.target() == master.sock


def test_tty_login_keeps_master_with_a_terminal(env, shell):
    master = env.session('master', tty=True)
    env.login(shell, master, tty=True)
    new = env.session('new', tty=True)
    env.login(shell, new, tty=True)
    assert env.target() == master.sock
