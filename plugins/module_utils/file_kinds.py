# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What is at a path, seen without following symlinks: the one classifier of the modules and
module utilities (the bottom floor: it imports nothing of the collection, nor Ansible)."""

from __future__ import annotations

import grp
import os
import pwd
import stat

# Mode bits that let group or others write: never in a directory we trust or a file we write.
WRITABLE_BY_OTHERS = 0o022


def lstat_or_none(path):
    """os.lstat, or None when nothing is there (or a part of the path is not a directory)."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def kind_of(st):
    """symlink, directory, file (regular) or other, for an lstat result."""
    if stat.S_ISLNK(st.st_mode):
        return 'symlink'
    if stat.S_ISDIR(st.st_mode):
        return 'directory'
    if stat.S_ISREG(st.st_mode):
        return 'file'
    return 'other'


def group_of_one(gid, uid):
    """Whether the group gid has exactly one member, the account uid (a user-private group): its
    write bit then lets nobody else write, and sshd on Debian (StrictModes) accepts it. Members are
    the accounts whose primary group it is and the group's own member list."""
    try:
        group = grp.getgrgid(gid)
        account = pwd.getpwuid(uid)
    except KeyError:
        return False
    primary = set(entry.pw_uid for entry in pwd.getpwall() if entry.pw_gid == gid)
    listed = set(group.gr_mem)
    return primary <= {uid} and listed <= {account.pw_name} and bool(primary or listed)
