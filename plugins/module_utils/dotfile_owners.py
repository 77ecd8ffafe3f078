# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which tool owns a dotfile: a symlink farm (stow, rcm, homeshick), a git repository whose work
tree is the home (a plain ~/.git, yadm, vcsh, a bare repository used with --work-tree=~), or a
copying manager with a source directory (chezmoi, dotdrop). A file such a tool owns is never
edited: the tool would report drift and its next apply would take the edit out again.

Runs as the account (in the child of account_files), so every file read is one the user can read
and a git run is the user's own. Cheap on purpose: a few stats per dotfile, one listing of the
home's top level, the git index or one bounded `git ls-files` per repository found, and never a
walk of the home.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import struct

GIT_TIMEOUT = 5
INDEX_MAX = 64 << 20
# Symlinks into these trees (relative to the home) name their manager.
LINK_TREES = (('.homesick/repos/', 'homeshick'), ('.dotfiles/', 'rcm'), ('.local/share/chezmoi/', 'chezmoi'),
              ('.local/share/yadm/', 'yadm'), ('dotfiles/', 'stow'), ('.stow/', 'stow'))
CHEZMOI_PREFIXES = ('remove_', 'external_', 'exact_', 'create_', 'modify_', 'encrypted_', 'private_',
                    'readonly_', 'empty_', 'executable_', 'symlink_', 'once_', 'onchange_')
CHEZMOI_SUFFIXES = ('.tmpl', '.literal', '.age', '.asc')
DOTDROP_CONFIGS = ('.config/dotdrop/config.yaml', 'dotfiles/config.yaml', '.dotfiles/config.yaml',
                   '/etc/xdg/dotdrop/config.yaml', '/etc/dotdrop/config.yaml')


class Owner(object):
    """A tool that owns a dotfile. manager: its name, or None when it cannot be told; how: what
    was seen (one phrase); source: the file the user edits instead, or None when not known."""

    def __init__(self, manager, how, source=None):
        self.manager = manager
        self.how = how
        self.source = source

    def advice(self, path, line):
        """One warning: the file, who owns it, and the exact line to add where the user edits it."""
        who = self.manager or 'a dotfile manager'
        where = self.source or 'the file %s copies to %s' % (who, path)
        return ('%s is owned by %s (%s), so the collection leaves it alone: add the line %r to %s'
                % (path, who, self.how, line, where))

    def __repr__(self):
        return 'Owner(%r, %r, %r)' % (self.manager, self.how, self.source)


def owner_of(home, path, run=None):
    """Which tool owns the dotfile `path` of the account whose home is `home`: None when none is
    seen, else an Owner (manager name when it can tell, and the source to edit when it can be
    found). Checked in turn: a symlink on the way from home to path; a git repository whose work
    tree holds path and whose index lists it (or that cannot be read: then it may); chezmoi's and
    dotdrop's source. Files outside the home (system scope) are only checked for symlinks.
    Reused by every writer of a user's file: owned -> report, never edit. `run` runs git (the
    module's run_command); without it the git index is read here."""
    found = symlink_owner(home, path)
    if found is not None or not inside(home, path):
        return found
    found = git_owner(home, path, run)
    for check in (chezmoi_owner, dotdrop_owner):
        if found is None:
            found = check(home, path)
    return found


def inside(home, path):
    return home not in ('', os.sep) and path.startswith(os.path.join(home, ''))


def is_dir(path):
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def read_small(path, limit=1 << 20):
    """Content of a small regular file, or None."""
    try:
        with open(path, 'rb') as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return handle.read(limit)
    except OSError:
        return None


# ---------------------------------------------------------------- symlinks

def first_symlink(home, path):
    """The first symlink on the way from home to path (path included), or None."""
    current = home
    for part in os.path.relpath(path, home).split(os.sep):
        if part == os.curdir:
            continue
        current = os.path.join(current, part)
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return current
        except OSError:
            return None
    return None


def symlink_owner(home, path):
    """A symlink farm owns path when it, or a directory on the way to it, is a symlink; the file
    to edit is where the link leads."""
    link = first_symlink(home, path)
    if link is None:
        return None
    target = os.path.realpath(path)
    return Owner(link_manager(home, target), 'a symlink to %s' % target, target)


def link_manager(home, target):
    """The manager whose tree a symlink leads into, when it is one of the usual ones."""
    relative = os.path.relpath(target, home) if inside(home, target) else ''
    if '##' in os.path.basename(target):
        return 'yadm'
    for prefix, manager in LINK_TREES:
        if relative.startswith(prefix):
            return manager
    return None


# ---------------------------------------------------------------- git work trees

def git_owner(home, path, run=None):
    """A git repository whose work tree holds path and whose index lists it."""
    for repo, worktree, manager in git_candidates(home, path):
        if not path.startswith(os.path.join(worktree, '')):
            continue
        relative = os.path.relpath(path, worktree)
        tracked = git_tracks(repo, worktree, relative, run)
        if tracked is None:
            return Owner(manager, 'perhaps tracked by the git repository %s: its index could not be read' % repo,
                         path)
        if tracked:
            return Owner(manager, 'tracked by the git repository %s, work tree %s' % (repo, worktree), path)
    return None


def git_candidates(home, path):
    """(git directory, work tree, manager) of every repository that may track path: a .git in a
    directory between home and path, yadm's, vcsh's and bare repositories at the home's top."""
    found = []
    directory = os.path.dirname(path)
    while directory.startswith(home):
        repo = dot_git(directory)
        if repo is not None:
            found.append((repo, directory, 'git'))
        if directory == home:
            break
        directory = os.path.dirname(directory)
    for repo in (os.path.join(home, '.local/share/yadm/repo.git'), os.path.join(home, '.config/yadm/repo.git')):
        if is_git_dir(repo):
            found.append((repo, worktree_of(repo, home), 'yadm'))
    found.extend((repo, worktree_of(repo, home), 'vcsh') for repo in vcsh_repos(home))
    found.extend((repo, worktree_of(repo, home), 'git') for repo in bare_repos(home))
    return found


def dot_git(directory):
    """The git directory of a work tree at `directory` (.git, or the gitdir a .git file names)."""
    candidate = os.path.join(directory, '.git')
    if is_git_dir(candidate):
        return candidate
    data = read_small(candidate, 4096)
    if data and data.startswith(b'gitdir:'):
        named = os.path.join(directory, os.fsdecode(data[7:].strip()))
        return named if is_git_dir(named) else None
    return None


def is_git_dir(directory):
    return (is_dir(os.path.join(directory, 'objects'))
            and os.path.isfile(os.path.join(directory, 'HEAD')))


def vcsh_repos(home):
    """vcsh keeps its repositories in $XDG_CONFIG_HOME/vcsh/repo.d (~/.config/vcsh/repo.d)."""
    return git_dirs_in(os.path.join(home, '.config/vcsh/repo.d'), lambda name: name.endswith('.git'))


def bare_repos(home):
    """Bare repositories at the top of the home that have an index, the mark of one used with a
    work tree (the technique `git --git-dir=~/.cfg --work-tree=~`)."""
    return [repo for repo in git_dirs_in(home, lambda name: name != '.git')
            if os.path.isfile(os.path.join(repo, 'index')) and git_config_bare(repo)]


def git_dirs_in(directory, wanted):
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    return sorted(entry.path for entry in entries
                  if wanted(entry.name) and entry.is_dir(follow_symlinks=False) and is_git_dir(entry.path))


def git_config(repo):
    return read_small(os.path.join(repo, 'config')) or b''


def git_config_bare(repo):
    return re.search(rb'(?im)^\s*bare\s*=\s*true\s*$', git_config(repo)) is not None


def worktree_of(repo, home):
    """core.worktree of the repository (yadm and vcsh set it), else the home."""
    found = re.search(rb'(?im)^\s*worktree\s*=\s*(.+?)\s*$', git_config(repo))
    if found is None:
        return home
    value = os.fsdecode(found.group(1).strip(b'"'))
    return os.path.normpath(expand_home(value, home) if value.startswith('~') else os.path.join(repo, value))


def git_tracks(repo, worktree, relative, run=None):
    """True or False when the repository's index lists relative, None when it cannot tell. The
    git binary answers when there is one and a runner; else the index is read here."""
    answer = git_ls_files(repo, worktree, relative, run)
    if answer is not None:
        return answer
    return index_lists(os.path.join(repo, 'index'), os.fsencode(relative), hash_size(repo))


def git_environment():
    """A bare environment: the account's own HOME, no pager, no prompt, no optional locks, no
    system config."""
    return {'PATH': os.environ.get('PATH', os.defpath), 'HOME': pwd.getpwuid(os.geteuid()).pw_dir, 'LC_ALL': 'C',
            'GIT_PAGER': 'cat', 'PAGER': 'cat', 'GIT_TERMINAL_PROMPT': '0', 'GIT_OPTIONAL_LOCKS': '0',
            'GIT_CONFIG_NOSYSTEM': '1', 'GIT_LITERAL_PATHSPECS': '1'}


def git_ls_files(repo, worktree, relative, run):
    """`git ls-files --error-unmatch`, run by `run` (AnsibleModule.run_command) in a bare
    environment (env -i) and bounded by coreutils' timeout: True (listed), False (not listed), None
    (no runner, no git, env or timeout, refused, too slow: the index is then read here). Hooks and
    fsmonitor are off, so nothing of the repository's config runs."""
    path = os.environ.get('PATH', os.defpath)
    tools = [shutil.which(name, path=path) for name in ('timeout', 'env', 'git')]
    if run is None or None in tools:
        return None
    limit, env, git = tools
    bare = ['%s=%s' % item for item in sorted(git_environment().items())]
    command = [limit, '-k', '1', str(GIT_TIMEOUT), env, '-i'] + bare + [
        git, '--no-pager', '-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null',
        '--git-dir=' + repo, '--work-tree=' + worktree, 'ls-files', '--error-unmatch', '--', relative]
    try:
        code, dummy, err = run(command, cwd=worktree, expand_user_and_vars=False, handle_exceptions=False)
    except OSError:
        return None
    if code == 0:
        return True
    if code == 1 and 'did not match' in err:
        return False
    return None


def hash_size(repo):
    return 32 if re.search(rb'(?im)^\s*objectformat\s*=\s*sha256\s*$', git_config(repo)) else 20


def index_lists(index, name, hashlen=20):
    """Whether the git index file lists name (bytes, relative to the work tree): True, False, or
    None when it cannot tell (missing, unknown version, split or sparse index, damaged)."""
    data = read_small(index, INDEX_MAX + 1)
    if data is None or len(data) > INDEX_MAX or len(data) < 12 or data[:4] != b'DIRC':
        return None
    version, count = struct.unpack('>II', data[4:12])
    if version not in (2, 3, 4):
        return None
    try:
        names, end = index_names(data, version, count, hashlen)
    except (ValueError, IndexError, struct.error):
        return None
    if name in names:
        return True
    if any(entry.endswith(b'/') and name.startswith(entry) for entry in names) or split_index(data, end, hashlen):
        return None
    return False


def index_names(data, version, count, hashlen):
    """The path names of the index entries, and where the entries end."""
    names = []
    offset = 12
    previous = b''
    fixed = 40 + hashlen
    for _entry in range(count):
        flags = struct.unpack('>H', data[offset + fixed:offset + fixed + 2])[0]
        start = offset + fixed + 2 + (2 if version >= 3 and flags & 0x4000 else 0)
        if version == 4:
            strip, start = varint(data, start)
            end = data.index(b'\0', start)
            previous = previous[:len(previous) - strip] + data[start:end]
            names.append(previous)
            offset = end + 1
        else:
            end = data.index(b'\0', start)
            names.append(data[start:end])
            offset += (end - offset + 8) // 8 * 8
    return names, offset


def varint(data, offset):
    """git's offset encoding of index v4 (varint.c): base 128, each continuation adds one."""
    byte = data[offset]
    value = byte & 0x7f
    while byte & 0x80:
        offset += 1
        byte = data[offset]
        value = ((value + 1) << 7) | (byte & 0x7f)
    return value, offset + 1


def split_index(data, offset, hashlen):
    """True when an extension says the entries are partly in a shared index (split index)."""
    while offset + 8 <= len(data) - hashlen:
        signature = data[offset:offset + 4]
        size = struct.unpack('>I', data[offset + 4:offset + 8])[0]
        if signature == b'link':
            return True
        offset += 8 + size
    return False


# ---------------------------------------------------------------- chezmoi

def chezmoi_owner(home, path):
    """chezmoi owns path when its source state has an entry for it, or when a directory on the way
    is exact_ (chezmoi removes what it does not know there)."""
    source = chezmoi_source(home)
    if source is None:
        return None
    directory = source
    parts = os.path.relpath(path, home).split(os.sep)
    for depth, part in enumerate(parts):
        entry = chezmoi_entry(directory, part)
        if entry is None:
            if directory != source and 'exact_' in chezmoi_name_parts(os.path.basename(directory))[0]:
                return Owner('chezmoi', 'in an exact_ directory of its source %s, it would remove the file'
                             % directory, os.path.join(directory, chezmoi_name(parts[depth:])))
            return None
        directory = entry
    return Owner('chezmoi', 'copied from its source %s' % directory, directory)


def chezmoi_source(home):
    """The source directory: sourceDir of ~/.config/chezmoi/chezmoi.{toml,yaml,json,jsonc}, else
    ~/.local/share/chezmoi; a .chezmoiroot there moves the source state into a subdirectory."""
    source = chezmoi_configured(home) or os.path.join(home, '.local/share/chezmoi')
    if not is_dir(source):
        return None
    root = read_small(os.path.join(source, '.chezmoiroot'), 4096)
    if root and root.strip():
        source = os.path.join(source, os.fsdecode(root.strip()))
    return source if is_dir(source) else None


def chezmoi_configured(home):
    patterns = {'toml': rb'(?m)^\s*sourceDir\s*=\s*["\']([^"\']+)["\']',
                'yaml': rb'(?m)^sourceDir\s*:\s*["\']?([^"\'#\n]+?)["\']?\s*(?:#.*)?$',
                'yml': rb'(?m)^sourceDir\s*:\s*["\']?([^"\'#\n]+?)["\']?\s*(?:#.*)?$',
                'json': rb'"sourceDir"\s*:\s*"([^"]+)"', 'jsonc': rb'"sourceDir"\s*:\s*"([^"]+)"'}
    for extension, pattern in patterns.items():
        data = read_small(os.path.join(home, '.config/chezmoi/chezmoi.' + extension))
        found = re.search(pattern, data) if data else None
        if found:
            return expand_home(os.fsdecode(found.group(1).strip()), home)
    return None


def expand_home(value, home):
    if value == '~' or value.startswith('~/'):
        return home + value[1:]
    return value if os.path.isabs(value) else os.path.join(home, value)


def chezmoi_entry(directory, target_name):
    """The entry of `directory` in the source state whose target name is target_name, or None."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    for name in names:
        if not name.startswith('.') and chezmoi_name_parts(name)[1] == target_name:
            return os.path.join(directory, name)
    return None


def chezmoi_name_parts(name):
    """(attribute prefixes, target name) of a source name: prefixes and suffixes taken off,
    dot_ made '.', literal_ ending the prefixes."""
    prefixes = []
    while True:
        if name.startswith('literal_'):
            name = name[len('literal_'):]
            break
        prefix = next((p for p in CHEZMOI_PREFIXES if name.startswith(p)), None)
        if prefix is None:
            break
        prefixes.append(prefix)
        name = name[len(prefix):]
    if name.startswith('dot_'):
        name = '.' + name[len('dot_'):]
    for suffix in CHEZMOI_SUFFIXES:
        if name.endswith(suffix):
            name = name[:-len(suffix)]
            break
    return prefixes, name


def chezmoi_name(parts):
    """The source name chezmoi would give a new target (dot_ for a leading dot)."""
    return os.path.join(*[('dot_' + part[1:]) if part.startswith('.') else part for part in parts])


# ---------------------------------------------------------------- dotdrop

def dotdrop_owner(home, path):
    """dotdrop owns path when a dotfile of its config has path (or a directory above it) as dst."""
    for config in dotdrop_configs(home):
        dotpath, entries = dotdrop_config(config, home)
        for src, dst in entries:
            if path == dst or path.startswith(os.path.join(dst, '')):
                source = os.path.join(dotpath, src, os.path.relpath(path, dst)) if path != dst \
                    else os.path.join(dotpath, src)
                return Owner('dotdrop', 'its config %s installs it from %s' % (config, source), source)
    return None


def dotdrop_configs(home):
    """The config files dotdrop looks in by default, and the usual ~/dotfiles and ~/.dotfiles."""
    found = []
    for relative in DOTDROP_CONFIGS:
        config = os.path.join(home, relative)
        if os.path.isfile(config) and config not in found:
            found.append(config)
    return found


def dotdrop_config(config, home):
    """(dotpath, [(src, dst)]) of a dotdrop config.yaml, dst with ~ expanded. A small reader of the
    part of YAML dotdrop's own configs use: block mappings, plain or quoted scalars."""
    dotpath = 'dotfiles'
    entries = []
    section = None
    current = {}
    entry_indent = None
    for raw in (read_small(config) or b'').decode('utf-8', 'replace').split('\n'):
        line = raw.split(' #')[0].rstrip()
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        indent = len(line) - len(line.lstrip())
        key, _colon, value = line.strip().partition(':')
        value = value.strip().strip('"\'')
        if indent == 0:
            section = key
            continue
        if section == 'config' and key == 'dotpath' and value:
            dotpath = value
        elif section == 'dotfiles' and not value and indent <= (entry_indent or indent):
            entry_indent = indent
            current = {}
            entries.append(current)
        elif section == 'dotfiles' and entries and indent > entry_indent and key in ('src', 'dst'):
            current[key] = value
    dotpath = expand_home(dotpath, home) if dotpath.startswith('~') else os.path.join(os.path.dirname(config), dotpath)
    return dotpath, [(e['src'], os.path.normpath(expand_home(e['dst'], home))) for e in entries
                     if e.get('src') and e.get('dst')]
