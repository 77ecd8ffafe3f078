# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which tool owns a dotfile: real git repositories (a bare one with the home as work tree, yadm's,
vcsh's, a plain ~/.git) made in temporary homes, chezmoi and dotdrop layouts, with and without a
git binary; and the write step leaving those files alone."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils import account_files as af
from ansible_collections.happyssh.agent.plugins.module_utils import dotfile_owners as do

LINE = '[ ! -r ~/.ssh/happyssh/rc ] || . ~/.ssh/happyssh/rc'
TMUX = 'source-file -q ~/.ssh/happyssh/tmux.conf'
NOBODY = 65534
GIT = shutil.which('git')
needs_git = pytest.mark.skipif(GIT is None, reason='needs the git binary')
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root')


@pytest.fixture
def home():
    path = tempfile.mkdtemp(prefix='happyssh-home-')
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_git(monkeypatch, tmp_path):
    """A PATH without git: the index is read by the module itself."""
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    assert shutil.which('git') is None


class Runner(object):
    """AnsibleModule.run_command as the module passes it, keeping each command it ran."""

    def __init__(self):
        self.commands = []

    def __call__(self, args, cwd=None, environ_update=None, expand_user_and_vars=True, handle_exceptions=True):
        assert not expand_user_and_vars and not handle_exceptions, 'paths are literal; errors are ours to take'
        self.commands.append(args)
        done = subprocess.run(args, cwd=cwd, env=dict(os.environ, **(environ_update or {})), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


def write(home, relative, data=b'mine\n'):
    path = os.path.join(home, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(data)
    return path


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def git(*args, **kwargs):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM='1', HOME=kwargs.pop('home', '/nonexistent'),
               GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@example.invalid', GIT_COMMITTER_NAME='t',
               GIT_COMMITTER_EMAIL='t@example.invalid')
    return subprocess.run([GIT] + list(args), check=True, env=env, stdout=subprocess.PIPE, **kwargs).stdout


def bare(home, repo, *tracked, worktree=None):
    """A bare repository used with the home as work tree, tracking the given files."""
    git('init', '-q', '--bare', repo)
    if worktree:
        git('--git-dir=' + repo, 'config', 'core.worktree', worktree)
    for relative in tracked:
        write(home, relative)
    git('--git-dir=' + repo, '--work-tree=' + home, 'add', '--', *tracked)
    git('--git-dir=' + repo, '--work-tree=' + home, 'commit', '-qm', 'dotfiles')
    return repo


# ---------------------------------------------------------------- nothing owns it

def test_plain_home_has_no_owner(home):
    assert do.owner_of(home, write(home, '.ssh/rc')) is None
    assert do.owner_of(home, os.path.join(home, '.config/tmux/tmux.conf')) is None


def test_system_files_are_only_checked_for_symlinks():
    assert do.owner_of('/', '/etc/hostname') is None


# ---------------------------------------------------------------- symlinks

@pytest.mark.parametrize('tree, manager', [('dotfiles/tmux', 'stow'), ('.homesick/repos/mine/home', 'homeshick'),
                                           ('.dotfiles', 'rcm'), ('elsewhere', None)])
def test_symlink_names_the_tree_it_leads_into(home, tree, manager):
    source = write(home, tree + '/.tmux.conf')
    os.symlink(source, os.path.join(home, '.tmux.conf'))
    owner = do.owner_of(home, os.path.join(home, '.tmux.conf'))
    assert (owner.manager, owner.source) == (manager, source) and 'symlink' in owner.how


def test_symlinked_directory_owns_the_files_below_it(home):
    write(home, 'dotfiles/config/tmux/tmux.conf')
    os.symlink('dotfiles/config', os.path.join(home, '.config'))
    owner = do.owner_of(home, os.path.join(home, '.config/tmux/tmux.conf'))
    assert owner.source == os.path.join(home, 'dotfiles/config/tmux/tmux.conf') and owner.manager == 'stow'


# ---------------------------------------------------------------- git work trees

@needs_git
@pytest.mark.parametrize('with_git', [True, False])
def test_bare_repository_with_the_home_as_work_tree(home, with_git, request):
    bare(home, os.path.join(home, '.cfg'), '.ssh/rc', '.tmux.conf')
    untracked = write(home, '.screenrc')
    run = Runner()
    if not with_git:
        request.getfixturevalue('no_git')
    owner = do.owner_of(home, os.path.join(home, '.ssh/rc'), run)
    assert owner.manager == 'git' and os.path.join(home, '.cfg') in owner.how and 'tracked' in owner.how
    assert owner.source == os.path.join(home, '.ssh/rc')
    assert do.owner_of(home, untracked, run) is None
    assert do.owner_of(home, os.path.join(home, '.config/tmux/tmux.conf'), run) is None
    # git answers when there is one and the module's runner; else the index is read here.
    assert bool(run.commands) == with_git
    assert all('ls-files' in command for command in run.commands)


@needs_git
def test_bare_repository_without_index_is_not_a_dotfile_repository(home):
    git('init', '-q', '--bare', os.path.join(home, 'project.git'))
    assert do.owner_of(home, write(home, '.ssh/rc')) is None


@needs_git
@pytest.mark.parametrize('where', ['.local/share/yadm/repo.git', '.config/yadm/repo.git'])
def test_yadm_repository(home, where):
    bare(home, os.path.join(home, where), '.tmux.conf', worktree=home)
    owner = do.owner_of(home, os.path.join(home, '.tmux.conf'))
    assert owner.manager == 'yadm' and where in owner.how
    assert do.owner_of(home, write(home, '.screenrc')) is None


@needs_git
def test_vcsh_repositories(home):
    repo_d = os.path.join(home, '.config/vcsh/repo.d')
    bare(home, os.path.join(repo_d, 'tmux.git'), '.tmux.conf', worktree=home)
    bare(home, os.path.join(repo_d, 'ssh.git'), '.ssh/rc', worktree=home)
    assert do.owner_of(home, os.path.join(home, '.ssh/rc')).manager == 'vcsh'
    assert 'tmux.git' in do.owner_of(home, os.path.join(home, '.tmux.conf')).how
    assert do.owner_of(home, write(home, '.screenrc')) is None


@needs_git
@pytest.mark.parametrize('with_git', [True, False])
def test_home_is_a_work_tree(home, with_git, request):
    write(home, '.tmux.conf')
    git('init', '-q', home)
    git('-C', home, 'add', '.tmux.conf')
    git('-C', home, 'commit', '-qm', 'dotfiles')
    run = Runner()
    if not with_git:
        request.getfixturevalue('no_git')
    assert do.owner_of(home, os.path.join(home, '.tmux.conf'), run).manager == 'git'
    assert do.owner_of(home, write(home, '.ssh/rc'), run) is None
    assert bool(run.commands) == with_git


@needs_git
def test_directory_of_the_home_is_a_work_tree(home):
    write(home, '.config/tmux/tmux.conf')
    config = os.path.join(home, '.config')
    git('init', '-q', config)
    git('-C', config, 'add', 'tmux/tmux.conf')
    owner = do.owner_of(home, os.path.join(config, 'tmux/tmux.conf'))
    assert owner.manager == 'git' and 'work tree %s' % config in owner.how


@needs_git
def test_unreadable_index_without_git_is_perhaps_owned(home, no_git):
    repo = os.path.join(home, '.cfg')
    os.makedirs(os.path.join(repo, 'objects'))
    write(home, '.cfg/HEAD', b'ref: refs/heads/main\n')
    write(home, '.cfg/config', b'[core]\n\tbare = true\n')
    write(home, '.cfg/index', b'DIRC\0\0\0\x09garbage')
    owner = do.owner_of(home, write(home, '.ssh/rc'))
    assert owner is not None and 'perhaps' in owner.how


@needs_git
@pytest.mark.parametrize('version', [2, 3, 4])
def test_index_reader_agrees_with_git(home, version):
    names = ['.ssh/rc', '.tmux.conf', '.config/tmux/tmux.conf', '.config/tmux/other', 'a' * 200 + '/' + 'b' * 200,
             'dir/x y']
    for name in names:
        write(home, name)
    git('init', '-q', home)
    git('-C', home, 'add', '--', *names[:-1])
    # intent-to-add sets the extended flags, which version 2 cannot hold (git writes 3 then)
    git('-C', home, 'add', *(['-N'] if version > 2 else []), '--', names[-1])
    git('-C', home, 'update-index', '--index-version', str(version))
    index = os.path.join(home, '.git/index')
    assert read(index)[4:8] == bytes([0, 0, 0, version])
    listed = git('-C', home, 'ls-files', '-z').split(b'\0')
    for name in names + ['.ssh/none', '.config/tmux', 'a' * 200]:
        assert do.index_lists(index, name.encode()) is (name.encode() in listed), name


def test_index_reader_says_when_it_cannot_tell(home):
    assert do.index_lists(os.path.join(home, 'missing'), b'x') is None
    assert do.index_lists(write(home, 'index', b'DIRC\0\0\0\x05' + b'\0' * 20), b'x') is None


# ---------------------------------------------------------------- chezmoi

@pytest.mark.parametrize('source_name', ['private_dot_ssh/executable_rc', 'private_dot_ssh/rc.tmpl',
                                         'dot_ssh/readonly_empty_rc', 'exact_private_dot_ssh/literal_rc'])
def test_chezmoi_source_names(home, source_name):
    source = write(home, '.local/share/chezmoi/' + source_name)
    write(home, '.ssh/rc')
    owner = do.owner_of(home, os.path.join(home, '.ssh/rc'))
    assert (owner.manager, owner.source) == ('chezmoi', source)
    assert do.owner_of(home, write(home, '.screenrc')) is None


@pytest.mark.parametrize('config, text', [
    ('chezmoi.toml', 'sourceDir = "~/src/dots"\n[git]\n    autoPush = true\n'),
    ('chezmoi.yaml', 'sourceDir: ~/src/dots\ngit:\n    autoPush: true\n'),
    ('chezmoi.json', '{\n  "sourceDir": "~/src/dots",\n  "git": {"autoPush": true}\n}\n')])
def test_chezmoi_source_directory_from_its_config(home, config, text):
    write(home, '.config/chezmoi/' + config, text.encode())
    source = write(home, 'src/dots/dot_tmux.conf')
    write(home, '.local/share/chezmoi/dot_screenrc')  # not the source any more
    assert do.owner_of(home, os.path.join(home, '.tmux.conf')).source == source
    assert do.owner_of(home, os.path.join(home, '.screenrc')) is None


def test_chezmoi_root_file_moves_the_source_state(home):
    write(home, '.local/share/chezmoi/.chezmoiroot', b'home\n')
    source = write(home, '.local/share/chezmoi/home/dot_tmux.conf')
    assert do.owner_of(home, os.path.join(home, '.tmux.conf')).source == source


def test_chezmoi_exact_directory_owns_files_it_does_not_know(home):
    write(home, '.local/share/chezmoi/dot_config/exact_tmux/other.conf')
    owner = do.owner_of(home, os.path.join(home, '.config/tmux/tmux.conf'))
    assert owner.manager == 'chezmoi' and 'exact_' in owner.how
    assert owner.source == os.path.join(home, '.local/share/chezmoi/dot_config/exact_tmux/tmux.conf')
    assert do.owner_of(home, os.path.join(home, '.config/other/x')) is None


# ---------------------------------------------------------------- dotdrop

DOTDROP = b'''config:
  backup: true
  create: true
  dotpath: %s   # where the sources are
dotfiles:
  f_rc:
    src: ssh/rc
    dst: ~/.ssh/rc
    actions:
      - reload
  d_tmux:
    src: "config/tmux"
    dst: '~/.config/tmux'
profiles:
  laptop:
    dotfiles:
      - f_rc
'''


@pytest.mark.parametrize('config, dotpath', [('dotfiles/config.yaml', 'dotfiles'), ('.dotfiles/config.yaml', 'dots'),
                                             ('.config/dotdrop/config.yaml', '~/mine')])
def test_dotdrop_destinations(home, config, dotpath):
    write(home, config, DOTDROP % dotpath.encode())
    base = os.path.join(home, dotpath[2:]) if dotpath.startswith('~') else \
        os.path.join(home, os.path.dirname(config), dotpath)
    owner = do.owner_of(home, os.path.join(home, '.ssh/rc'))
    assert (owner.manager, owner.source) == ('dotdrop', os.path.join(base, 'ssh/rc'))
    inside = do.owner_of(home, os.path.join(home, '.config/tmux/tmux.conf'))
    assert inside.source == os.path.join(base, 'config/tmux/tmux.conf')
    assert do.owner_of(home, os.path.join(home, '.screenrc')) is None
    assert do.owner_of(home, os.path.join(home, '.config/tmuxx')) is None


# ---------------------------------------------------------------- the write step

OLD_RC = b'# BEGIN happyssh.agent rc (managed by Ansible)\nold\n# END happyssh.agent rc (managed by Ansible)\n'
RECIPE = b'if test "$SSH_AUTH_SOCK"; then ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock; fi\n'


def rc_entry(home):
    return dict(kind='include', path=os.path.join(home, '.ssh/rc'), line=LINE, position='top', old_blocks=['rc'],
                link='.ssh/ssh_auth_sock')


@needs_git
def test_tracked_rc_is_never_edited_and_told_once(home):
    write(home, '.ssh/rc', OLD_RC + RECIPE)
    repo = os.path.join(home, '.cfg')
    git('init', '-q', '--bare', repo)
    git('--git-dir=' + repo, '--work-tree=' + home, 'add', '.ssh/rc')
    git('--git-dir=' + repo, '--work-tree=' + home, 'commit', '-qm', 'rc')
    for _run in range(2):
        result = af.plan_account(home, [rc_entry(home)], False, True)
        assert result['files'] == []
        assert read(os.path.join(home, '.ssh/rc')) == OLD_RC + RECIPE
        told = [w for w in result['warnings'] if LINE in w]
        assert len(told) == 1 and 'git repository %s' % repo in told[0] and '.ssh/rc' in told[0]
        assert any('0.1.0' in w and 'take the block out' in w for w in result['warnings'])
        assert any('ln -s' in w and 'take it out of %s (git owns' % os.path.join(home, '.ssh/rc') in w
                   for w in result['warnings'])
    assert git('--git-dir=' + repo, '--work-tree=' + home, 'status', '--porcelain', '-uno') == b''


def test_copied_file_is_never_edited(home):
    write(home, '.local/share/chezmoi/private_dot_ssh/rc', b'mine\n')
    write(home, '.ssh/rc', b'mine\n')
    result = af.plan_account(home, [rc_entry(home)], False, True)
    assert result['files'] == [] and read(os.path.join(home, '.ssh/rc')) == b'mine\n'
    assert result['warnings'] == [do.owner_of(home, os.path.join(home, '.ssh/rc')).advice(
        os.path.join(home, '.ssh/rc'), LINE)]
    assert 'chezmoi' in result['warnings'][0] and 'private_dot_ssh/rc' in result['warnings'][0]


@needs_git
def test_line_goes_to_the_untracked_file_the_program_also_reads(home):
    """tmux reads ~/.tmux.conf and then ~/.config/tmux/tmux.conf: with the first tracked, the line
    goes into the second, which the manager does not know; the next run changes nothing."""
    bare(home, os.path.join(home, '.cfg'), '.tmux.conf')
    entry = dict(kind='include', path=os.path.join(home, '.config/tmux/tmux.conf'), line=TMUX,
                 reads=[os.path.join(home, '.tmux.conf'), os.path.join(home, '.config/tmux/tmux.conf')])
    first = af.plan_account(home, [entry], False, True)
    assert [f['path'] for f in first['files']] == [entry['path']] and first['warnings'] == []
    assert read(os.path.join(home, '.tmux.conf')) == b'mine\n'
    second = af.plan_account(home, [entry], False, True)
    assert second == {'files': [], 'warnings': []}


def test_owned_target_in_exact_directory_is_not_created(home):
    write(home, '.local/share/chezmoi/dot_config/exact_tmux/other.conf')
    entry = dict(kind='include', path=os.path.join(home, '.config/tmux/tmux.conf'), line=TMUX)
    result = af.plan_account(home, [entry], False, True)
    assert result['files'] == [] and 'exact_' in result['warnings'][0]
    assert not os.path.exists(entry['path'])


@needs_git
@needs_root
def test_git_runs_as_the_account(home):
    """Run as root for nobody: the repository belongs to nobody, git runs as nobody (no dubious
    ownership), and the tracked file is left alone."""
    bare(home, os.path.join(home, '.cfg'), '.ssh/rc')
    subprocess.run(['chown', '-R', '%d:%d' % (NOBODY, NOBODY), home], check=True)
    os.chmod(home, 0o755)
    name = pwd.getpwuid(NOBODY).pw_name
    result = af.as_account(name, af.plan_account, home, [rc_entry(home)], False, True)
    assert result['files'] == [] and 'tracked by the git repository' in result['warnings'][0]
