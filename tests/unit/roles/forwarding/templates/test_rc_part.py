# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rc part and the site's /etc/ssh/sshrc, and the hot path's place (the rendered rc part only).

sshd runs ~/.ssh/rc instead of /etc/ssh/sshrc; the user's rc part runs the site file as sshd would
have (its stdin: the X11 "proto cookie", which it hands to xauth itself), and then does not pass
the cookie to xauth a second time. The rendered file names /etc/ssh/sshrc; here it names a site
file of the test, the rest of the file as the role renders it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import homes  # pylint: disable=import-error

COOKIE = '0123456789abcdef0123456789abcdef'


def site_rc(env, body):
    """A site rc at a path of the test, named by the user's rc part in place of /etc/ssh/sshrc.
    It records each run and its stdin in ran.log."""
    path = os.path.join(env.home, 'sshrc')
    record = os.path.join(env.home, 'ran.log')
    with open(path, 'w') as f:
        f.write('{ printf "run\\n"; cat; } >>%s\necho site-rc-ran >&2\n%s' % (record, body))
    part = os.path.join(env.ssh, 'happyssh', 'rc')
    with open(part) as f:
        text = f.read()
    assert 'hs_sshrc=/etc/ssh/sshrc\n' in text
    with open(part, 'w') as f:
        f.write(text.replace('hs_sshrc=/etc/ssh/sshrc\n', 'hs_sshrc=%s\n' % path))
    return record


def runs(record):
    if not os.path.exists(record):
        return []
    with open(record) as f:
        return f.read().split('run\n')[1:]


def xauth_entries(path):
    if not os.path.exists(path):
        return []
    result = subprocess.run(['xauth', '-f', path, 'list'], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=10, check=False)
    return [line.split() for line in result.stdout.splitlines()]


@pytest.mark.skipif(shutil.which('xauth') is None, reason='xauth is not installed')
@pytest.mark.parametrize('x11', [False, True], ids=['no-x11', 'x11'])
def test_site_rc_runs_once_with_sshds_stdin_and_does_the_xauth(env, shell, x11):
    record = site_rc(env, '')
    xauthority = os.path.join(env.home, 'xauthority')
    own = env.session('own', tty=True)
    stdin = ('MIT-MAGIC-COOKIE-1 %s\n' % COOKIE).encode() if x11 else b''
    result = env.login(shell, own, tty=True, stdin=stdin,
                       extra={'DISPLAY': 'localhost:10.0', 'XAUTHORITY': xauthority})
    # Once, with the cookie line as sshd wrote it; its stderr is the session's.
    assert runs(record) == ['MIT-MAGIC-COOKIE-1 %s\n' % COOKIE if x11 else '']
    assert result.stderr == b'site-rc-ran\n'
    # The site file does the xauth (this one does none): the rc part never adds the cookie.
    assert xauth_entries(xauthority) == []
    assert env.target() == own.sock


@pytest.mark.skipif(shutil.which('xauth') is None, reason='xauth is not installed')
def test_site_rc_xauth_gets_the_cookie_once(env, shell):
    xauthority = os.path.join(env.home, 'xauthority')
    # The sshd(8) SSHRC example, reduced: the cookie to xauth.
    record = site_rc(env, 'true\n')
    with open(os.path.join(env.home, 'sshrc'), 'w') as f:
        f.write('printf "run\\n" >>%s\nif read -r proto cookie && [ -n "$DISPLAY" ]; then\n'
                '  echo "add unix:${DISPLAY#localhost:} $proto $cookie" | xauth -q -\nfi\n' % record)
    own = env.session('own', tty=True)
    env.login(shell, own, tty=True, stdin=('MIT-MAGIC-COOKIE-1 %s\n' % COOKIE).encode(),
              extra={'DISPLAY': 'localhost:10.0', 'XAUTHORITY': xauthority})
    assert len(runs(record)) == 1
    entries = xauth_entries(xauthority)
    assert len(entries) == 1 and entries[0][0].endswith('unix:10') and entries[0][1:] == ['MIT-MAGIC-COOKIE-1', COOKIE]


def test_site_rc_runs_on_the_hot_path(env, shell):
    """A non-interactive login with a live owner (the hot path) still runs the site file."""
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    record = site_rc(env, '')
    short = env.session('short')
    result = env.login(shell, short)
    assert result.stderr == b'site-rc-ran\n'
    assert runs(record) == ['']
    assert env.target() == owner.sock


def test_site_rc_that_runs_the_users_rc_never_loops(env, shell):
    record = site_rc(env, '. "$HOME/.ssh/rc"\n')
    own = env.session('own')
    result = env.login(shell, own, timeout=10)
    assert runs(record) == ['']
    assert result.stderr == b'site-rc-ran\n'
    assert env.target() == own.sock


def test_system_scope_never_runs_the_site_rc():
    """/etc/happyssh/rc is read by /etc/ssh/sshrc itself: it names no site file to run."""
    text = homes.render('rc.j2', __forwarding_keeper='/usr/local/lib/happyssh/happyssh-link',
                        forwarding_scope='system')
    assert "hs_sshrc=''\n" in text
    user = homes.render('rc.j2', __forwarding_keeper='/h/.ssh/happyssh/happyssh-link')
    assert 'hs_sshrc=/etc/ssh/sshrc\n' in user


def test_hot_path_has_one_copy():
    """The hot path is in the rendered rc part only; the keeper holds the full rules."""
    with open(homes.KEEPER) as f:
        keeper = f.read()
    with open(os.path.join(homes.ROLE, 'templates', 'rc.j2')) as f:
        template = f.read()
    assert re.search(r'^hs_hot\(\)', template, re.M)
    assert 'hs_hot' not in keeper


# An rc part of 0.2.0 (no hs_rc, no hot path: it left stdin to the keeper) with this keeper, as a
# home has it between the keeper's update and the rc part's, or on a host of a shared home that
# still runs the older role.
RC_0_2_0 = '''hs_link=.ssh/ssh_auth_sock
hs_timeout=2
hs_x11=1
hs_mode=login
. %s
'''


@pytest.mark.skipif(shutil.which('xauth') is None, reason='xauth is not installed')
def test_rc_part_of_0_2_0_keeps_working(env, shell):
    with open(os.path.join(env.ssh, 'happyssh', 'rc'), 'w') as f:
        f.write(RC_0_2_0 % env.script)
    xauthority = os.path.join(env.home, 'xauthority')
    owner = env.session('owner', tty=True)
    result = env.login(shell, owner, tty=True, stdin=('MIT-MAGIC-COOKIE-1 %s\n' % COOKIE).encode(),
                       extra={'DISPLAY': 'localhost:10.0', 'XAUTHORITY': xauthority})
    assert result.stderr == b''
    entries = xauth_entries(xauthority)
    assert len(entries) == 1 and entries[0][0].endswith('unix:10') and entries[0][1:] == ['MIT-MAGIC-COOKIE-1', COOKIE]
    assert env.target() == owner.sock
    # A short connection with the live owner: the full rules keep it.
    env.login(shell, env.session('short'))
    assert env.target() == owner.sock
    assert env.owner() == ['tty', owner.sock]


def test_hot_path_never_reads_the_keeper(env, shell):
    """A non-interactive login with a live owner decides in the rc part: the keeper is not read
    (posh, without -O and -ef, reads it: the full rules decide there)."""
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    with open(env.script) as f:
        keeper = f.read()
    record = os.path.join(env.home, 'keeper-read')
    with open(env.script, 'w') as f:
        f.write(': >%s\n%s' % (record, keeper))
    for _attempt in range(3):
        result = env.login(shell, env.session('short'))
        assert result.stderr == b''
    assert env.owner() == ['tty', owner.sock]
    assert os.path.exists(record) == (shell == ['posh'])
    # An interactive login is not the hot path: the keeper decides.
    env.login(shell, env.session('laptop', tty=True), tty=True)
    assert os.path.exists(record)


def test_hot_path_keeps_no_owner_whose_pid_is_not_an_sshd(env, shell):
    """The owner's pid runs, but not an sshd (a pid taken again after its sshd was killed, its
    socket left behind, nothing listening on it): the hot path does not keep it, and the full
    rules, which let the agent's answer decide for such a pid (docs/protocol.md), replace it."""
    owner = env.session('owner', tty=True, sshd_name='sleep')
    owner.agent.kill()
    owner.agent.wait()
    env.point(owner.sock)
    with open(env.state, 'w') as f:
        f.write('tty %s\n' % owner.sock)
    short = env.session('short')
    env.login(shell, short)
    assert env.target() == short.sock
