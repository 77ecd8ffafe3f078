# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Other writers of the stable link: the blog recipe taken out, anything else reported by line,
and what is taken out leaves a file every shell still parses."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils import account_files as af
from ansible_collections.happyssh.agent.plugins.module_utils import link_writers as lw

HOME = '/home/alice'
LINK = lw.link_spellings(HOME, '.ssh/ssh_auth_sock', 'alice')
RC_LINE = '[ ! -r ~/.ssh/happyssh/rc ] || . ~/.ssh/happyssh/rc'

# (name, file content, [(first, last, kind)], content once the recipe is out)
CASES = [
    ('the recipe, first form',
     'if test "$SSH_AUTH_SOCK"; then ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock; fi\n',
     [(1, 1, lw.RECIPE)], ''),
    ('the recipe, second form, with its comment',
     '#!/bin/bash\n\n# Fix SSH auth socket location so agent forwarding works with tmux\n'
     'if test "$SSH_AUTH_SOCK" ; then\n    ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock\nfi\n',
     [(3, 6, lw.RECIPE)], '#!/bin/bash\n\n'),
    ('then on its own line, quoted $HOME, a test of the link too',
     'if [ ! -S "$HOME/.ssh/ssh_auth_sock" ] && [ -S "$SSH_AUTH_SOCK" ]\nthen\n'
     '  ln -sf "$SSH_AUTH_SOCK" "$HOME/.ssh/ssh_auth_sock"\nfi\nexport SSH_AUTH_SOCK=~/.ssh/ssh_auth_sock\n',
     [(1, 4, lw.RECIPE)], 'export SSH_AUTH_SOCK=~/.ssh/ssh_auth_sock\n'),
    ('a guard joined by &&, the absolute path, ln -sfn',
     'umask 022\n[ -n "$SSH_AUTH_SOCK" ] && ln -sfn "$SSH_AUTH_SOCK" /home/alice/.ssh/ssh_auth_sock\n',
     [(2, 2, lw.RECIPE)], 'umask 022\n'),
    ('long options',
     'ln --symbolic --force "$SSH_AUTH_SOCK" ~/.ssh/ssh_auth_sock\n', [(1, 1, lw.RECIPE)], ''),
    ('bare ln with ${HOME} and ${SSH_AUTH_SOCK}',
     'ln -s -f ${SSH_AUTH_SOCK} ${HOME}/.ssh/ssh_auth_sock 2>/dev/null\n',
     [(1, 1, lw.RECIPE)], ''),
    ('[[ ]] and ~alice',
     'if [[ -S $SSH_AUTH_SOCK ]]; then ln -sf $SSH_AUTH_SOCK ~alice/.ssh/ssh_auth_sock; fi\n',
     [(1, 1, lw.RECIPE)], ''),
    ('inside an if with an else: reported, never cut',
     'if [ -S "$SSH_AUTH_SOCK" ]; then\n  ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock\nelse\n  :\nfi\n',
     [(2, 2, lw.OTHER)], None),
    ('inside a function: reported, never cut',
     'fix_agent() {\n  ln -sf "$SSH_AUTH_SOCK" ~/.ssh/ssh_auth_sock\n}\n',
     [(2, 2, lw.OTHER)], None),
    ('csh syntax: reported, never cut',
     'if ($?SSH_AUTH_SOCK) then\n  ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock\nendif\n',
     [(2, 2, lw.OTHER)], None),
    ('another source for the link',
     'ln -sf /tmp/ssh-*/agent.* ~/.ssh/ssh_auth_sock\n', [(1, 1, lw.OTHER)], None),
    ('SSH_AUTH_SOCK set to another fixed path, in sh, tmux and screen',
     'export SSH_AUTH_SOCK="$HOME/.ssh/agent_$TMUX_SESSION"\nsetenv -g SSH_AUTH_SOCK $HOME/.ssh/old_sock\n'
     'setenv SSH_AUTH_SOCK /tmp/my-agent\n',
     [(1, 1, lw.OTHER), (2, 2, lw.OTHER), (3, 3, lw.OTHER)], None),
    ('the link itself, the variable, command output, a comment: nothing to say',
     'export SSH_AUTH_SOCK=~/.ssh/ssh_auth_sock\nset-environment -g SSH_AUTH_SOCK "$HOME/.ssh/ssh_auth_sock"\n'
     'setenv SSH_AUTH_SOCK $HOME/.ssh/ssh_auth_sock\nexport SSH_AUTH_SOCK=$(gpgconf --list-dirs agent-ssh-socket)\n'
     'SSH_AUTH_SOCK=$SSH_AUTH_SOCK\n# ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock\n'
     'ln -sf "$SSH_AUTH_SOCK" ~/.ssh/other_link\n',
     [], None),
]


@pytest.mark.parametrize('name,content,expected,cleaned', CASES, ids=[c[0] for c in CASES])
def test_finds_each_writer_with_its_lines(name, content, expected, cleaned):
    found = lw.find(content.encode(), LINK)
    assert [(f.first, f.last, f.kind) for f in found] == expected
    after = lw.without(content.encode(), found).decode()
    assert after == (content if cleaned is None else cleaned)


SHELLS = [s for s in ('dash', 'bash', 'mksh', 'posh') if shutil.which(s)]


@pytest.mark.parametrize('name,content,expected,cleaned', [c for c in CASES if c[3] is not None],
                         ids=[c[0] for c in CASES if c[3] is not None])
@pytest.mark.parametrize('shell', SHELLS)
def test_what_is_left_still_parses(shell, name, content, expected, cleaned):
    if '[[' in content and shell in ('dash', 'posh'):
        pytest.skip('[[ is not POSIX')
    result = subprocess.run([shell, '-n'], input=cleaned.encode(), capture_output=True, check=False)
    assert result.returncode == 0, result.stderr


def test_other_link_paths_are_followed():
    spelled = lw.link_spellings('/srv/home/bob', '.ssh/agent.sock', 'bob')
    found = lw.find(b'if test "$SSH_AUTH_SOCK"; then ln -sf $SSH_AUTH_SOCK ~/.ssh/agent.sock; fi\n'
                    b'ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock\n', spelled)
    assert [(f.first, f.kind) for f in found] == [(1, lw.RECIPE)]


# ---------------------------------------------------------------- in the write step

@pytest.fixture
def home():
    path = tempfile.mkdtemp(prefix='happyssh-home-')
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(data)


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


RECIPE_RC = b'if test "$SSH_AUTH_SOCK"; then ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock; fi\n'


def rc_entry(home, **extra):
    entry = dict(kind='include', path=os.path.join(home, '.ssh/rc'), line=RC_LINE, position='top',
                 link='.ssh/ssh_auth_sock', scan=[os.path.join(home, '.bashrc'), os.path.join(home, '.profile')])
    entry.update(extra)
    return entry


def test_the_recipe_goes_from_the_rc_and_the_startup_files_with_a_backup(home):
    write(os.path.join(home, '.ssh/rc'), RECIPE_RC)
    write(os.path.join(home, '.bashrc'), b'alias ll="ls -l"\n[ -S "$SSH_AUTH_SOCK" ] && ln -sf "$SSH_AUTH_SOCK" '
          b'$HOME/.ssh/ssh_auth_sock\n')
    first = af.plan_account(home, [rc_entry(home)], False, True)
    assert sorted(f['path'] for f in first['files']) == [os.path.join(home, '.bashrc'), os.path.join(home, '.ssh/rc')]
    assert all(f['backup_file'] and os.path.exists(f['backup_file']) for f in first['files'])
    assert b'ln -sf' not in read(os.path.join(home, '.ssh/rc'))
    assert RC_LINE.encode() in read(os.path.join(home, '.ssh/rc'))
    assert read(os.path.join(home, '.bashrc')) == b'alias ll="ls -l"\n'
    assert any('.ssh/rc:1: line 1: the blog recipe' in w and 'taken out' in w for w in first['warnings'])
    assert any('.bashrc:2: line 2: the blog recipe' in w for w in first['warnings'])
    second = af.plan_account(home, [rc_entry(home)], False, True)
    assert second == {'files': [], 'warnings': []}


def test_the_recipe_below_an_existing_include_line_is_still_taken_out(home):
    rc = os.path.join(home, '.ssh/rc')
    write(rc, af.INCLUDE_COMMENT + b'\n' + RC_LINE.encode() + b'\n' + RECIPE_RC)
    done = af.plan_account(home, [rc_entry(home)], False, False)
    assert [f['path'] for f in done['files']] == [rc]
    assert read(rc) == af.INCLUDE_COMMENT + b'\n' + RC_LINE.encode() + b'\n'


def test_check_mode_shows_the_change_and_writes_nothing(home):
    rc = os.path.join(home, '.ssh/rc')
    write(rc, RECIPE_RC)
    planned = af.plan_account(home, [rc_entry(home)], True, True)
    assert [f['action'] for f in planned['files']] == ['updated']
    assert 'ln -sf' in planned['files'][0]['before'] and 'ln -sf' not in planned['files'][0]['after']
    assert read(rc) == RECIPE_RC


def test_left_alone_the_recipe_is_reported_with_its_line_and_kept(home):
    rc = os.path.join(home, '.ssh/rc')
    write(rc, b'umask 077\n' + RECIPE_RC)
    done = af.plan_account(home, [rc_entry(home, leave_alone=True)], False, True)
    assert done['files'] == []
    assert read(rc) == b'umask 077\n' + RECIPE_RC
    assert any(w.startswith(rc + ':2: line 2: the blog recipe') and 'leaves this file to you' in w
               for w in done['warnings'])


def test_a_symlinked_startup_file_is_reported_not_edited(home):
    real = os.path.join(home, 'dotfiles/bashrc')
    write(real, RECIPE_RC)
    os.symlink(real, os.path.join(home, '.bashrc'))
    done = af.plan_account(home, [rc_entry(home)], False, True)
    assert read(real) == RECIPE_RC
    assert [f['path'] for f in done['files']] == [os.path.join(home, '.ssh/rc')]
    assert any('.bashrc:1: line 1: the blog recipe' in w and 'take it out' in w for w in done['warnings'])


def test_other_writers_are_reported_every_run_and_never_edited(home):
    conf = os.path.join(home, '.tmux.conf')
    write(conf, b'set -g mouse on\nsetenv -g SSH_AUTH_SOCK $HOME/.ssh/old_sock\n')
    entry = dict(kind='include', path=os.path.join(home, '.config/tmux/tmux.conf'), line='source-file -q x',
                 reads=[conf], link='.ssh/ssh_auth_sock')
    for dummy in range(2):
        done = af.plan_account(home, [entry], False, True)
        assert any(w.startswith(conf + ':2: line 2: sets SSH_AUTH_SOCK to $HOME/.ssh/old_sock') for w in done['warnings'])
    assert read(conf) == b'set -g mouse on\nsetenv -g SSH_AUTH_SOCK $HOME/.ssh/old_sock\n'
