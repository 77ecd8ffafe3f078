# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The write step of the role: owned files, include lines, 0.1.0 blocks, as the account."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils import account_files as af

LINE = 'source-file -q ~/.ssh/happyssh/tmux.conf'
NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root')


@pytest.fixture
def home():
    path = tempfile.mkdtemp(prefix='happyssh-home-')
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def run(home, files, check=False, backup=True):
    return af.plan_account(home, files, check, backup)


def include(home, path, **extra):
    entry = dict(kind='include', path=os.path.join(home, path), line=LINE)
    entry.update(extra)
    return entry


def test_owned_file_is_created_with_its_directories_and_then_left_alone(home):
    entry = dict(kind='owned', path=os.path.join(home, '.ssh/happyssh/tmux.conf'), content='x\n', dir_mode='0700')
    first = run(home, [entry])
    assert [f['action'] for f in first['files']] == ['created']
    assert read(entry['path']) == b'x\n'
    assert stat.S_IMODE(os.stat(os.path.join(home, '.ssh')).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(entry['path']).st_mode) == 0o644
    assert run(home, [entry])['files'] == []


def test_owned_file_mode_is_repaired(home):
    entry = dict(kind='owned', path=os.path.join(home, 'f'), content='x\n')
    write(entry['path'], b'x\n', 0o666)
    assert [f['action'] for f in run(home, [entry])['files']] == ['updated']
    assert stat.S_IMODE(os.stat(entry['path']).st_mode) == 0o644


def test_owned_symlink_is_replaced_not_followed(home):
    elsewhere = os.path.join(home, 'elsewhere')
    write(elsewhere, b'keep\n')
    path = os.path.join(home, 'owned')
    os.symlink(elsewhere, path)
    run(home, [dict(kind='owned', path=path, content='ours\n')])
    assert not os.path.islink(path) and read(path) == b'ours\n'
    assert read(elsewhere) == b'keep\n'


def test_line_is_appended_with_a_backup_and_the_mode_kept(home):
    path = os.path.join(home, '.screenrc')
    write(path, b'defscrollback 42', 0o600)
    result = run(home, [include(home, '.screenrc')])
    assert read(path) == b'defscrollback 42\n' + af.INCLUDE_COMMENT + b'\n' + LINE.encode() + b'\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    backup = result['files'][0]['backup_file']
    assert backup and read(backup) == b'defscrollback 42'
    assert run(home, [include(home, '.screenrc')])['files'] == []


def test_no_backup_when_told(home):
    path = os.path.join(home, '.screenrc')
    write(path, b'x\n')
    assert run(home, [include(home, '.screenrc')], backup=False)['files'][0]['backup_file'] is None
    assert os.listdir(home) == ['.screenrc']


def test_line_goes_first_but_after_a_shebang(home):
    path = os.path.join(home, '.ssh/rc')
    write(path, b'#!/bin/sh\necho mine\n')
    run(home, [include(home, '.ssh/rc', position='top')])
    assert read(path).split(b'\n')[:4] == [b'#!/bin/sh', af.INCLUDE_COMMENT, LINE.encode(), b'echo mine']


def test_line_in_any_file_the_program_reads_means_no_change(home):
    write(os.path.join(home, '.tmux.conf'), b'set -g mouse on\n  %s  \n' % LINE.encode())
    result = run(home, [include(home, '.config/tmux/tmux.conf', reads=[os.path.join(home, '.tmux.conf')])])
    assert result == {'files': [], 'warnings': []}
    assert not os.path.exists(os.path.join(home, '.config'))


def test_leave_alone_warns_and_writes_nothing(home):
    path = os.path.join(home, '.screenrc')
    write(path, b'mine\n')
    result = run(home, [include(home, '.screenrc', leave_alone=True)])
    assert result['files'] == [] and LINE in result['warnings'][0]
    assert read(path) == b'mine\n'


@pytest.mark.parametrize('where', ['file', 'directory'])
def test_symlinked_dotfile_is_never_written(home, where):
    repo = os.path.join(home, 'dotfiles')
    write(os.path.join(repo, 'tmux.conf'), b'mine\n')
    if where == 'file':
        os.symlink('dotfiles/tmux.conf', os.path.join(home, '.tmux.conf'))
        entry = include(home, '.tmux.conf')
    else:
        os.symlink('dotfiles', os.path.join(home, '.config'))
        entry = include(home, '.config/tmux.conf')
    result = run(home, [entry])
    assert result['files'] == [] and 'symlink' in result['warnings'][0] and LINE in result['warnings'][0]
    assert os.listdir(repo) == ['tmux.conf'] and read(os.path.join(repo, 'tmux.conf')) == b'mine\n'


def test_old_blocks_are_removed_from_every_file_read(home):
    old = b'# BEGIN happyssh.agent tmux (managed by Ansible)\nset-environment x\n' \
          b'# END happyssh.agent tmux (managed by Ansible)\n'
    write(os.path.join(home, '.tmux.conf'), b'set -g mouse on\n' + old)
    entry = include(home, '.config/tmux/tmux.conf', reads=[os.path.join(home, '.tmux.conf')], old_blocks=['tmux'])
    result = run(home, [entry])
    changed = sorted(f['path'] for f in result['files'])
    assert changed == [os.path.join(home, '.config/tmux/tmux.conf'), os.path.join(home, '.tmux.conf')]
    assert read(os.path.join(home, '.tmux.conf')) == b'set -g mouse on\n'
    assert run(home, [entry])['files'] == []


def test_block_without_end_marker_is_kept_whole():
    data = b'a\n# BEGIN happyssh.agent rc (managed by Ansible)\nb\n'
    assert af.without_old_blocks(data, [b'rc']) == data


def test_check_mode_writes_nothing_and_shows_the_diff(home):
    path = os.path.join(home, '.screenrc')
    write(path, b'mine\n')
    result = run(home, [include(home, '.screenrc'), dict(kind='owned', path=os.path.join(home, 'o'), content='x')],
                 check=True)
    assert [(f['action'], f['before'], f['after']) for f in result['files']] == [
        ('updated', 'mine\n', 'mine\n' + af.INCLUDE_COMMENT.decode() + '\n' + LINE + '\n'), ('created', '', 'x')]
    assert read(path) == b'mine\n' and not os.path.exists(os.path.join(home, 'o'))


def test_absent_removes_only_a_regular_file_of_the_account(home):
    old = os.path.join(home, '.ssh/happyssh-link')
    write(old, b'old keeper\n')
    assert [f['action'] for f in run(home, [dict(kind='absent', path=old)])['files']] == ['removed']
    assert not os.path.exists(old)
    os.mkdir(old)
    result = run(home, [dict(kind='absent', path=old)])
    assert result['files'] == [] and os.path.isdir(old)


def test_failed_write_leaves_no_temporary_file(home, monkeypatch):
    path = os.path.join(home, '.screenrc')
    write(path, b'mine\n')

    def no_space(fd, data):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(af.os, 'write', no_space)
    with pytest.raises(af.FilesError, match='.screenrc'):
        run(home, [include(home, '.screenrc')], backup=False)
    monkeypatch.undo()
    assert os.listdir(home) == ['.screenrc'] and read(path) == b'mine\n'


@needs_root
def test_child_writes_as_the_account_and_cannot_be_redirected(home):
    """Run as root for nobody: files belong to nobody; a symlink to a root directory planted in
    the home makes the write fail (the child has nobody's rights), and root's file is untouched."""
    os.chown(home, NOBODY, NOBODY)
    os.chmod(home, 0o755)
    name = pwd.getpwuid(NOBODY).pw_name
    files = [dict(kind='owned', path=os.path.join(home, '.ssh/happyssh/rc'), content='x\n', mode='0644',
                  dir_mode='0700')]
    result = af.as_account(name, af.plan_account, home, files, False, True)
    assert [f['action'] for f in result['files']] == ['created']
    assert os.stat(os.path.join(home, '.ssh/happyssh/rc')).st_uid == NOBODY
    assert not os.path.exists(os.path.join(home, '.ansible'))
    victim = tempfile.mkdtemp(prefix='happyssh-root-')
    try:
        os.symlink(victim, os.path.join(home, '.config'))
        planted = [dict(kind='owned', path=os.path.join(home, '.config/tmux.conf'), content='x\n')]
        with pytest.raises(af.FilesError, match='.config'):
            af.as_account(name, af.plan_account, home, planted, False, True)
        assert os.listdir(victim) == []
    finally:
        shutil.rmtree(victim)


def test_unknown_account_is_named():
    with pytest.raises(af.FilesError, match='nosuchaccount'):
        af.as_account('nosuchaccount', af.plan_account, '/', [], True, True)
