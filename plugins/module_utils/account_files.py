# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Files in other accounts' homes: looked at and written by a child process that has become the
account, so a symlink planted in a home can never redirect a write made with root's rights.

Three kinds of entries, each planned first (what would change, with a diff), then applied:
- owned: a file the collection owns (rewritten whole when it differs, atomically);
- include: a line the program must read, added to a user's dotfile unless one of the files the
  program reads holds it already; markers of 0.1.0's managed blocks are removed;
- absent: a file the collection owned before, removed.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import stat
import sys
import tempfile
import time

from ansible_collections.happyssh.agent.plugins.module_utils import dotfile_owners, link_writers
from ansible_collections.happyssh.agent.plugins.module_utils.file_kinds import lstat_or_none

OLD_BLOCK_BEGIN = b'# BEGIN happyssh.agent %s (managed by Ansible)'
OLD_BLOCK_END = b'# END happyssh.agent %s (managed by Ansible)'
INCLUDE_COMMENT = b'# Added by happyssh.agent: keeps the forwarded SSH agent reachable.'


class FilesError(Exception):
    """A problem that stops the writes of an account; the message names the path."""


# ---------------------------------------------------------------- running as the account

def as_account(name, work, *args):
    """Run work(*args) in a child that has become the account `name` (only when it is not the
    current one), and return its result. Nothing after the fork may import, return or raise:
    the child reports over a pipe and ends with os._exit."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise FilesError('no such account: %s' % name)
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                become(entry)
                report = {'result': work(*args)}
            except FilesError as exc:
                report = {'error': str(exc)}
            except Exception as exc:  # pylint: disable=broad-except
                report = {'error': '%s: %s' % (type(exc).__name__, exc)}
            data = json.dumps(report).encode()
            while data:
                data = data[os.write(write_end, data):]
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    try:
        report = json.loads(b''.join(chunks).decode())
    except ValueError:
        raise FilesError('the process working as %s ended without a report' % name)
    if 'error' in report:
        raise FilesError(report['error'])
    return report['result']


def become(entry):
    """Drop to the account: groups, then gid, then uid. Skipped when already that account."""
    if os.geteuid() == entry.pw_uid:
        return
    os.initgroups(entry.pw_name, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.umask(0o022)


# ---------------------------------------------------------------- reading safely

def check_parents(path, top):
    """Every directory between top and path that exists must be ours (or root's) and not a
    symlink to somewhere we do not own; returns the first missing directory or None."""
    uid = os.geteuid()
    relative = os.path.relpath(os.path.dirname(path), top)
    current = top
    parts = [] if relative == os.curdir else relative.split(os.sep)
    for part in parts:
        current = os.path.join(current, part)
        st = lstat_or_none(current)
        if st is None:
            return current
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.stat(current)
            except OSError:
                raise FilesError('%s is a dangling symlink' % current)
            if st.st_uid != uid or target.st_uid not in (uid, 0):
                raise FilesError('%s is a symlink to a directory owned by uid %d; refusing to write through it'
                                 % (current, target.st_uid))
            st = target
        if not stat.S_ISDIR(st.st_mode):
            raise FilesError('%s is not a directory' % current)
        if st.st_uid not in (uid, 0):
            raise FilesError('%s is owned by uid %d, not by the account' % (current, st.st_uid))
    return None


def read_plain(path, follow):
    """Content of a regular file, or None when missing. follow=False refuses symlinks (O_NOFOLLOW)."""
    flags = os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NONBLOCK', 0)
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FilesError('%s is a symlink' % path)
        raise FilesError('cannot read %s: %s' % (path, exc.strerror))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FilesError('%s is not a regular file' % path)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- changing content

def without_old_blocks(data, parts):
    """data without 0.1.0's managed blocks of the given parts (marker lines included)."""
    lines = data.split(b'\n')
    kept = []
    inside = None
    for line in lines:
        stripped = line.strip()
        if inside is None:
            begins = [p for p in parts if stripped == OLD_BLOCK_BEGIN % p]
            if begins:
                inside = begins[0]
                continue
            kept.append(line)
        elif stripped == OLD_BLOCK_END % inside:
            inside = None
    if inside is not None:  # no end marker: keep everything rather than cut the rest
        return data
    return b'\n'.join(kept)


def has_line(data, line):
    wanted = line.strip()
    return data is not None and any(existing.strip() == wanted for existing in data.split(b'\n'))


def with_line(data, line, position):
    """data with the include line (and its comment) at the top (after a #! line) or the bottom."""
    added = INCLUDE_COMMENT + b'\n' + line + b'\n'
    if not data:
        return added
    if position == 'top':
        if data.startswith(b'#!'):
            first, sep, rest = data.partition(b'\n')
            return first + b'\n' + added + rest
        return added + data
    if not data.endswith(b'\n'):
        data += b'\n'
    return data + added


# ---------------------------------------------------------------- planning, as the account

def plan_account(home, files, check_only, backup, run=None):
    """Decide (and unless check_only, make) every change of one account. Runs as the account;
    `run` runs a command (AnsibleModule.run_command: git asked which dotfiles it tracks).
    Returns {'files': [{path, action, before, after, backup_file}], 'warnings': [...]}."""
    changes = []
    warnings = []
    owners = Owners(home, run)
    for entry in files:
        found, said = PLANNERS[entry['kind']](home, entry, owners)
        changes.extend(found)
        warnings.extend([said] if isinstance(said, str) else said or [])
    for item in changes:
        if not check_only:
            apply_item(item, backup)
        item.pop('dirs', None)
        item.pop('write_to', None)
        item.pop('mode', None)
        for key in ('before', 'after'):
            item[key] = item[key].decode('utf-8', 'replace')
    return {'files': changes, 'warnings': warnings}


def change(path, before, after, mode=None, dirs=None, write_to=None, dir_mode=None):
    action = 'removed' if after is None else ('created' if before is None else 'updated')
    return dict(path=path, action=action, before=before or b'', after=after or b'', mode=mode, dirs=dirs or [],
                write_to=write_to, dir_mode=dir_mode, backup_file=None)


def plan_owned(home, entry, _owners=None):
    """A file of the collection's own: its whole content, rewritten when it differs."""
    path = entry['path']
    missing = check_parents(path, home)
    content = entry['content'].encode()
    mode = int(entry.get('mode') or '0644', 8)
    st = None if missing else lstat_or_none(path)
    before = None
    if st is not None and stat.S_ISREG(st.st_mode):
        before = read_plain(path, follow=False)
        if before == content and stat.S_IMODE(st.st_mode) == mode:
            return [], None
    elif st is not None and not stat.S_ISLNK(st.st_mode):
        raise FilesError('%s exists and is not a regular file' % path)
    return [change(path, before, content, mode, missing_dirs(home, path), dir_mode=entry.get('dir_mode'))], None


def plan_include(home, entry, owners):
    """One line a program must read: nothing to do when a file it reads holds the line; else the
    line goes into entry['path'], unless the user keeps that file to themselves (leave_alone) or
    another tool owns it (dotfile_owners.owner_of: a symlink farm, a git work tree, a copying
    manager): then one warning names the tool and the line to add to its source. 0.1.0's managed
    blocks go from every file it reads; with entry['link'], the blog recipe goes from those files
    and from entry['scan'] (other_writers). A file another tool owns is never edited, only
    reported. A file the program reads that no tool owns may still be written (the tmux line in
    ~/.config/tmux/tmux.conf beside a managed ~/.tmux.conf): the manager never rewrites a file it
    does not track, so the two converge."""
    line = entry['line'].encode()
    target = entry['path']
    blocks = [p.encode() for p in entry.get('old_blocks') or []]
    reads = list(entry.get('reads') or [])
    if target not in reads:
        reads.append(target)
    contents = {}
    changes = []
    notes = []
    for path in reads + [p for p in entry.get('scan') or [] if p not in reads]:
        data = None if check_parents(path, home) is not None else read_plain(path, follow=True)
        cleaned = without_old_blocks(data, blocks) if data is not None and blocks else data
        if cleaned != data and owners.of(path) is not None:
            notes.append(old_block_note(path, owners.of(path)))
            cleaned = data
        if data is not None and entry.get('link'):
            cleaned, said = other_writers(home, entry, path, cleaned, owners)
            notes.extend(said)
        if path in reads:
            contents[path] = cleaned
        if cleaned != data:
            changes.append(change(path, data, cleaned, write_to=os.path.realpath(path)))
    if any(has_line(data, line) for data in contents.values()):
        return changes, notes
    if entry.get('leave_alone'):
        return changes, notes + ['%s: add the line %r (the collection leaves this file to you)' % (target, entry['line'])]
    if owners.of(target) is not None:
        return changes, notes + [owners.of(target).advice(target, entry['line'])]
    changes = [c for c in changes if c['path'] != target]
    original = read_plain(target, follow=False) if lstat_or_none(target) is not None else None
    after = with_line(contents.get(target) or b'', line, entry.get('position', 'bottom'))
    mode = None if original is not None else int(entry.get('mode') or '0644', 8)
    changes.append(change(target, original, after, mode, missing_dirs(home, target), dir_mode=entry.get('dir_mode')))
    return changes, notes


class Owners(object):
    """dotfile_owners.owner_of for the files of one account, each looked up once."""

    def __init__(self, home, run=None):
        self.home = home
        self.run = run
        self.seen = {}

    def of(self, path):
        if path not in self.seen:
            self.seen[path] = dotfile_owners.owner_of(self.home, path, self.run)
        return self.seen[path]


def old_block_note(path, owner):
    who = owner.manager or 'a dotfile manager'
    return ('%s: holds a managed block of version 0.1.0 of the role; %s owns the file (%s), so the collection'
            ' leaves it: take the block out of %s' % (path, who, owner.how, owner.source or 'its source'))


def other_writers(home, entry, path, data, owners):
    """data without the blog recipe's lines, and what to tell the user about every writer of the
    link found in it. Files the user keeps (leave_alone, another tool's) are only reported."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    findings = link_writers.find(data, link_writers.link_spellings(home, entry['link'], user))
    if not findings:
        return data, []
    owner = owners.of(path)
    keep = entry.get('leave_alone') or owner is not None
    kept = 'take it out of %s (%s owns this file)' % (owner.source or path, owner.manager or 'a dotfile manager') \
        if owner is not None else 'take it out (the collection leaves this file to you)'
    notes = []
    for finding in findings:
        where = finding.where(path)
        if finding.kind == link_writers.OTHER:
            notes.append('%s: %s; the collection keeps the link: take it out, or make it agree' % (where, finding.what))
        elif keep:
            notes.append('%s: %s, which moves the link on every connection, off a live login: %s'
                         % (where, finding.what, kept))
        else:
            notes.append('%s: %s, which moved the link on every connection: taken out, the collection keeps'
                         ' the link now' % (where, finding.what))
    return (data if keep else link_writers.without(data, findings)), notes


def plan_absent(home, entry, _owners=None):
    """A file the collection owned before (0.1.0), removed when it is still a file of the account."""
    path = entry['path']
    if check_parents(path, home) is not None:
        return [], None
    st = lstat_or_none(path)
    if st is None:
        return [], None
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        return [], '%s was left in place: not a regular file of the account' % path
    return [change(path, read_plain(path, follow=False), None)], None


PLANNERS = {'owned': plan_owned, 'include': plan_include, 'absent': plan_absent}


def missing_dirs(home, path):
    """Directories between home and path that do not exist yet, outermost first."""
    missing = []
    current = os.path.dirname(path)
    while current.startswith(os.path.join(home, '')) and lstat_or_none(current) is None:
        missing.append(current)
        current = os.path.dirname(current)
    return list(reversed(missing))


# ---------------------------------------------------------------- applying, as the account

def apply_item(item, backup):
    if item['action'] == 'removed':
        os.unlink(item['path'])
        return
    dir_mode = int(item.get('dir_mode') or '0700', 8)
    for directory in item['dirs']:
        if lstat_or_none(directory) is None:  # an earlier file of the account may have made it
            try:
                os.mkdir(directory, dir_mode)
            except FileExistsError:  # or another host sharing the home, just now
                continue
            os.chmod(directory, dir_mode)
    if backup and item['action'] == 'updated' and item['mode'] is None:
        item['backup_file'] = backup_copy(item['path'], item['before'])
    replace_file(item.get('write_to') or item['path'], item['after'], item['mode'])


def backup_copy(path, data):
    """A copy of the replaced content beside path, named as Ansible names its backups."""
    name = '%s.%d.%s~' % (path, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S'))
    mode = stat.S_IMODE(os.stat(path).st_mode) & 0o777
    try:
        write_new(name, data, mode)
    except FileExistsError:
        # Pids repeat across hosts: another host sharing the home made this backup this second.
        name = '%s.%s~' % (name[:-1], os.urandom(4).hex())
        write_new(name, data, mode)
    return name


def write_new(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def write_all(fd, data):
    while data:
        written = os.write(fd, data)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        data = data[written:]


def replace_file(path, data, mode):
    """Atomic replace: a temporary file in the same directory, renamed over path. The mode of an
    existing file is kept unless a mode is given."""
    directory, base = os.path.split(path)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix='.%s.happyssh.' % base, dir=directory)
    try:
        try:
            os.fchmod(fd, mode)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise FilesError('cannot write %s: %s' % (path, exc.strerror or exc))
