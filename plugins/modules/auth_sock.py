#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: auth_sock
short_description: Keep a stable symlink pointing at a live forwarded SSH agent socket
version_added: 0.1.0
description:
  - Checks the symlink O(path) that long-lived shells (tmux or screen panes) use as E(SSH_AUTH_SOCK),
    and points it at a live SSH agent socket when it does not lead to one any more.
  - The shell rc of this collection fixes the link whenever a new SSH connection arrives. This module does the same
    from Ansible (a fleet run, a cron job, a handler) and reports what it saw, so it can also be used as a read-only
    probe in check mode.
  - An agent is live when it answers the way OpenSSH expects. The module connects to the UNIX socket, sends
    C(SSH2_AGENTC_REQUEST_IDENTITIES) and waits for C(SSH2_AGENT_IDENTITIES_ANSWER). Only the number of keys is
    returned, never key material. A refused connection, a missing file, a timeout, an early end of file or any
    other reply counts as dead.
  - A candidate socket is trusted only when it is a socket (not a symlink) owned by the user the module runs as, in a
    real directory (not a symlink) owned by that user that is not writable by group or others. Sockets of other users
    are never chosen, even when they answer. The current link target must pass the same rule to be left alone.
  - Trusted candidates are probed in the order of O(prefer) and the first live one wins, so a large number of
    stale sockets costs one refused connection each.
  - The link is replaced atomically (a new symlink under a temporary name, renamed over the old one), so it never
    goes missing. When no live agent is found, a dead link is left in place.
author:
  - happyssh.agent contributors (@happyssh)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - Path of the stable symlink.
      - When not set, C(~/.ssh/ssh_auth_sock) in the home directory of the user the module runs as, taken from the
        password database (not from E(HOME)). With O(ignore:become_user) that is the become user.
      - The parent directory must exist and be owned by the user the module runs as.
      - An existing file at O(path) that is not a symlink (a regular file, a directory, a socket) is never replaced;
        the module fails instead.
    type: path
  state:
    description:
      - V(present) makes sure O(path) points at a live trusted agent socket, repairing the link when needed.
      - V(absent) removes O(path), but only when it is a symlink, together with the rc state file C(<path>.owner).
      - For a read-only check, use V(present) in check mode.
    type: str
    choices: [present, absent]
    default: present
  search:
    description:
      - Glob patterns of candidate agent sockets.
      - A leading C(~) stands for the home directory of the user the module runs as.
      - The default covers both OpenSSH layouts, C(/tmp/ssh-*/agent.*) (OpenSSH 10.0 and older) and
        C(~/.ssh/agent/s.*.sshd.*) (OpenSSH 10.1 and newer).
      - A missing directory is normal and yields no candidates. The fixed leading directory of a pattern that exists
        but cannot be read by the user makes the module fail.
    type: list
    elements: str
    default: ['/tmp/ssh-*/agent.*', '~/.ssh/agent/s.*.sshd.*']
  prefer:
    description:
      - Which live candidate to choose when there are several, by modification time of the socket.
      - V(newest) usually is the most recent SSH connection.
    type: str
    choices: [newest, oldest]
    default: newest
  timeout:
    description:
      - Seconds to wait for one socket to answer the liveness probe.
    type: float
    default: 1.0
  fail_when_no_agent:
    description:
      - Fail when no live agent can be found.
      - When V(false), the module reports RV(status=no_live_agent) and leaves a dead link in place.
    type: bool
    default: false
notes:
  - The module takes the same lock as the shell rc, a symlink C(<path>.lock) whose target is the pid of the holder.
    A lock left behind by a process that no longer exists is removed. A lock held by a live process is waited for
    about two seconds; after that the module goes ahead without it and warns.
  - After a repair the rc state file C(<path>.owner) is rewritten with the line C(manual <target>). When that
    write fails (a full home), the link is still repaired, the old state file is removed and a warning says so.
  - O(path) is expanded like any C(path) option, so a C(~) given in O(path) follows E(HOME). Leave O(path) unset to
    get the home directory from the password database.
  - Run the module as the user whose agent the link is for, for example with O(ignore:become_user).
seealso:
  - module: ansible.builtin.file
    description: Manage plain symlinks.
  - name: ssh-agent(1)
    description: The OpenSSH authentication agent.
    link: https://man.openbsd.org/ssh-agent.1
"""

EXAMPLES = r"""
- name: Make sure the agent link of the remote user points at a live agent
  happyssh.agent.auth_sock:

- name: Repair the agent link of alice
  happyssh.agent.auth_sock:
    prefer: newest
  become: true
  become_user: alice

- name: Probe the agent link without changing anything
  happyssh.agent.auth_sock:
  check_mode: true
  register: agent_link

- name: Show what the probe saw
  ansible.builtin.debug:
    msg: "{{ agent_link.path }} -> {{ agent_link.target }} ({{ agent_link.status }}, {{ agent_link.keys }} keys)"

- name: Fail the play when nobody has an agent forwarded
  happyssh.agent.auth_sock:
    fail_when_no_agent: true
    timeout: 0.5

- name: Only look at the OpenSSH 10.1 layout, use a link of our own
  happyssh.agent.auth_sock:
    path: /home/bob/.cache/agent.sock
    search:
      - ~/.ssh/agent/s.*.sshd.*

- name: Remove the agent link
  happyssh.agent.auth_sock:
    state: absent
"""

RETURN = r"""
path:
  description: Path of the symlink.
  returned: always
  type: str
  sample: /home/alice/.ssh/ssh_auth_sock
target:
  description:
    - Target of the symlink after the run (in check mode, the target it would have).
    - V(null) when there is no link.
  returned: always
  type: str
  sample: /tmp/ssh-XXXXkNsrE5/agent.4242
previous_target:
  description: Target of the symlink before the run, V(null) when there was no link.
  returned: always
  type: str
  sample: /tmp/ssh-XXXXa1b2c3/agent.1234
alive:
  description: Whether the link leads to a live, trusted agent after the run.
  returned: always
  type: bool
  sample: true
status:
  description:
    - V(ok) the link already led to a live trusted agent.
    - V(repaired) the link was (or in check mode would be) pointed at a live agent.
    - V(no_live_agent) no live trusted agent was found; an existing link was left as it was.
    - V(absent) O(state=absent) and there was no link.
    - V(removed) O(state=absent) and the link was (or in check mode would be) removed.
  returned: always
  type: str
  sample: repaired
reason:
  description:
    - "Why the link did not count as ok before the run, for example V(missing), V(refused), V(no such file),
      V(untrusted: not owned by user) or V(is the link itself)."
    - V(null) when the link was ok or O(state=absent).
  returned: always
  type: str
  sample: refused
keys:
  description: Number of keys the agent holds, when the link leads to a live agent; otherwise V(null).
  returned: always
  type: int
  sample: 2
candidates:
  description:
    - The sockets matched by O(search), with what was found out about each.
    - Empty when the link was already ok (no search was needed) and for O(state=absent).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Path of the candidate socket.
      type: str
      returned: always
      sample: /tmp/ssh-XXXXa1b2c3/agent.1234
    alive:
      description: Result of the probe; V(null) when the candidate was skipped or not probed.
      type: bool
      returned: always
      sample: false
    reason:
      description:
        - Why the candidate was skipped or is dead, for example V(not owned by user), V(directory writable by others),
          V(symlink), V(not a socket), V(is the link itself), V(refused), V(timeout), V(no such file),
          V(garbage reply) or V(not probed) (a better candidate was live).
        - V(null) for the live candidate that was chosen.
      type: str
      returned: always
      sample: refused
  sample:
    - path: /tmp/ssh-XXXXkNsrE5/agent.4242
      alive: true
      reason: null
    - path: /tmp/ssh-XXXXa1b2c3/agent.1234
      alive: null
      reason: not probed
diff:
  description: Link before and after, when in diff mode.
  returned: when diff mode is on
  type: dict
  sample:
    before: "/home/alice/.ssh/ssh_auth_sock -> /tmp/ssh-XXXXa1b2c3/agent.1234\n"
    after: "/home/alice/.ssh/ssh_auth_sock -> /tmp/ssh-XXXXkNsrE5/agent.4242\n"
    before_header: /home/alice/.ssh/ssh_auth_sock
    after_header: /home/alice/.ssh/ssh_auth_sock
"""

import errno
import glob
import os
import pwd
import re
import socket
import stat
import struct
import tempfile
import time
from collections import namedtuple

from ansible.module_utils.basic import AnsibleModule

DEFAULT_SEARCH = ['/tmp/ssh-*/agent.*', '~/.ssh/agent/s.*.sshd.*']

SSH2_AGENTC_REQUEST_IDENTITIES = 11
SSH2_AGENT_FAILURE = 5
SSH2_AGENT_IDENTITIES_ANSWER = 12
AGENT_MAX_LEN = 256 * 1024  # same bound as OpenSSH's agent client
IDENTITIES_REQUEST = struct.pack('>IB', 1, SSH2_AGENTC_REQUEST_IDENTITIES)

LOCK_WAIT = 2.0
LOCK_STEP = 0.05
MESSAGE_LIST_MAX = 10

ERRNO_REASONS = {
    errno.ECONNREFUSED: 'refused',
    errno.ENOENT: 'no such file',
    errno.ENOTSOCK: 'not a socket',
    errno.EACCES: 'permission denied',
    errno.EAGAIN: 'busy',
    errno.EPIPE: 'connection closed',
    errno.ECONNRESET: 'connection closed',
}

GLOB_MAGIC = re.compile('[*?[]')

# alive: bool, keys: int or None, reason: str or None
Probe = namedtuple('Probe', ['alive', 'keys', 'reason'])
# reason is None for a trusted candidate
Candidate = namedtuple('Candidate', ['path', 'mtime', 'reason'])


class AuthSockError(Exception):
    """A problem that fails the task; the message names the path concerned."""


# ---------------------------------------------------------------- user and paths

def user_home():
    """Home directory of the effective user, from the password database."""
    return pwd.getpwuid(os.geteuid()).pw_dir


def default_link_path():
    return os.path.join(user_home(), '.ssh', 'ssh_auth_sock')


def expand_home(pattern, home):
    """Expand a leading ~ (the effective user, given as home) or ~name, from the password database."""
    if not pattern.startswith('~'):
        return pattern
    name, sep, rest = pattern[1:].partition('/')
    if not name:
        return home + sep + rest
    try:
        return pwd.getpwnam(name).pw_dir + sep + rest
    except KeyError:
        return pattern


def glob_root(pattern):
    """The leading directory of a glob pattern that holds no wildcard."""
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts[:-1]:
        if GLOB_MAGIC.search(part):
            break
        fixed.append(part)
    root = os.sep.join(fixed)
    if root:
        return root
    return os.sep if pattern.startswith(os.sep) else os.curdir


def check_glob_root(root):
    """Fail when a search directory exists but the user cannot list it."""
    if not os.path.isdir(root):
        return
    mode = os.R_OK | os.X_OK
    if os.access in os.supports_effective_ids:
        readable = os.access(root, mode, effective_ids=True)
    else:
        readable = os.access(root, mode)
    if not readable:
        raise AuthSockError('cannot read search directory %s' % root)


def check_parent(path, uid):
    """The directory of the link must exist and belong to the user."""
    parent = os.path.dirname(path)
    try:
        st = os.stat(parent)
    except OSError:
        raise AuthSockError('parent directory %s of %s does not exist' % (parent, path))
    if not stat.S_ISDIR(st.st_mode):
        raise AuthSockError('parent %s of %s is not a directory' % (parent, path))
    if st.st_uid != uid:
        raise AuthSockError('parent directory %s of %s is owned by uid %d, not by the user (uid %d)'
                            % (parent, path, st.st_uid, uid))


def read_link(path):
    """Return (kind, target): kind is missing, symlink, file, directory or other."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return 'symlink', os.readlink(path)
    except FileNotFoundError:
        return 'missing', None
    except OSError as exc:
        raise AuthSockError('cannot read %s: %s' % (path, exc))
    if stat.S_ISREG(st.st_mode):
        return 'file', None
    if stat.S_ISDIR(st.st_mode):
        return 'directory', None
    return 'other', None


def require_link_or_missing(path, kind):
    if kind not in ('missing', 'symlink'):
        what = {'file': 'a regular file', 'directory': 'a directory'}.get(kind, 'not a symlink')
        raise AuthSockError('%s exists and is %s; refusing to replace it' % (path, what))


# ---------------------------------------------------------------- trust

def directory_problem(directory, uid, cache):
    """Why a socket's directory is not trusted, or None (results cached per directory)."""
    if directory not in cache:
        cache[directory] = _directory_problem(directory, uid)
    return cache[directory]


def _directory_problem(directory, uid):
    try:
        st = os.lstat(directory)
    except OSError:
        return 'no such directory'
    if stat.S_ISLNK(st.st_mode):
        return 'directory is a symlink'
    if not stat.S_ISDIR(st.st_mode):
        return 'parent is not a directory'
    if st.st_uid != uid:
        return 'directory not owned by user'
    if st.st_mode & 0o022:
        return 'directory writable by others'
    return None


def socket_problem(st, uid):
    """Why an lstat result is not a trusted socket, or None."""
    if stat.S_ISLNK(st.st_mode):
        return 'symlink'
    if not stat.S_ISSOCK(st.st_mode):
        return 'not a socket'
    if st.st_uid != uid:
        return 'not owned by user'
    return None


def inspect_candidate(sock_path, link_path, uid, dir_cache):
    """lstat one candidate (never following symlinks) and decide whether it is trusted."""
    if sock_path == link_path:
        return Candidate(sock_path, 0, 'is the link itself')
    try:
        st = os.lstat(sock_path)
    except FileNotFoundError:
        return Candidate(sock_path, 0, 'no such file')
    except OSError as exc:
        return Candidate(sock_path, 0, os_reason(exc))
    reason = socket_problem(st, uid)
    if reason is None:
        reason = directory_problem(os.path.dirname(sock_path), uid, dir_cache)
    return Candidate(sock_path, st.st_mtime_ns, reason)


# ---------------------------------------------------------------- liveness

def os_reason(exc):
    reason = ERRNO_REASONS.get(exc.errno)
    if reason is None:
        reason = (exc.strerror or str(exc)).lower()
    return reason


def recv_exact(sock, size, deadline):
    """Read exactly size bytes before the deadline (EOFError on early end of file)."""
    chunks = []
    remaining = size
    while remaining:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('timed out')
        sock.settimeout(left)
        chunk = sock.recv(min(remaining, 65536))
        if not chunk:
            raise EOFError()
        chunks.append(chunk)
        remaining -= len(chunk)
    return b''.join(chunks)


def parse_identities(body):
    """Turn an agent reply body into a Probe; only the key count is kept."""
    if body[0] == SSH2_AGENT_FAILURE:
        return Probe(False, None, 'agent failure')
    if body[0] != SSH2_AGENT_IDENTITIES_ANSWER or len(body) < 5:
        return Probe(False, None, 'garbage reply')
    keys = struct.unpack('>I', body[1:5])[0]
    # every identity is at least two empty strings (key blob and comment)
    if keys * 8 > len(body) - 5:
        return Probe(False, None, 'garbage reply')
    return Probe(True, keys, None)


def probe_agent(sock_path, timeout):
    """Ask the agent at sock_path for its identities, like ssh-add -l does."""
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sock_path)
        sock.sendall(IDENTITIES_REQUEST)
        length = struct.unpack('>I', recv_exact(sock, 4, deadline))[0]
        if length < 1 or length > AGENT_MAX_LEN:
            return Probe(False, None, 'garbage reply')
        body = recv_exact(sock, length, deadline)
    except socket.timeout:
        return Probe(False, None, 'timeout')
    except EOFError:
        return Probe(False, None, 'connection closed')
    except OSError as exc:
        return Probe(False, None, os_reason(exc))
    finally:
        sock.close()
    return parse_identities(body)


def probe_cached(sock_path, timeout, probed):
    if sock_path not in probed:
        probed[sock_path] = probe_agent(sock_path, timeout)
    return probed[sock_path]


def link_problem(link_path, target, uid, timeout, probed):
    """Return (reason, probe): reason is None when link_path -> target leads to a live trusted agent."""
    resolved = os.path.normpath(os.path.join(os.path.dirname(link_path), target))
    cand = inspect_candidate(resolved, link_path, uid, {})
    if cand.reason in ('is the link itself', 'no such file'):
        return cand.reason, None
    if cand.reason is not None:
        return 'untrusted: %s' % cand.reason, None
    probe = probe_cached(resolved, timeout, probed)
    return probe.reason, probe


# ---------------------------------------------------------------- candidates

def find_candidates(patterns, link_path, uid, home):
    """Glob all patterns (in order, without duplicates) and inspect every match."""
    paths = {}
    for pattern in patterns:
        pattern = expand_home(pattern, home)
        check_glob_root(glob_root(pattern))
        for match in sorted(glob.glob(pattern)):
            paths.setdefault(os.path.abspath(match), None)
    dir_cache = {}
    return [inspect_candidate(p, link_path, uid, dir_cache) for p in paths]


def order_trusted(candidates, prefer):
    trusted = [c for c in candidates if c.reason is None]
    trusted.sort(key=lambda c: (c.mtime, c.path), reverse=(prefer == 'newest'))
    return trusted


def choose_live(candidates, prefer, timeout, probed):
    """Probe trusted candidates in order of preference; return (path, probe) of the first live one."""
    for cand in order_trusted(candidates, prefer):
        probe = probe_cached(cand.path, timeout, probed)
        if probe.alive:
            return cand.path, probe
    return None, None


def describe_candidates(candidates, probed):
    described = []
    for cand in candidates:
        if cand.reason is not None:
            alive, reason = None, cand.reason
        elif cand.path in probed:
            alive, reason = probed[cand.path].alive, probed[cand.path].reason
        else:
            alive, reason = None, 'not probed'
        described.append(dict(path=cand.path, alive=alive, reason=reason))
    return described


# ---------------------------------------------------------------- lock shared with the shell rc

def pid_alive(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(lock_path):
    """Pid written in the lock symlink, or None when there is none or it cannot be read."""
    try:
        return int(os.readlink(lock_path))
    except (OSError, ValueError):
        return None


def clear_stale_lock(lock_path):
    """Remove the lock when its holder no longer exists; True when removed."""
    holder = lock_holder(lock_path)
    if holder is None or pid_alive(holder):
        return False
    try:
        if os.readlink(lock_path) != str(holder):
            return False
        os.unlink(lock_path)
    except OSError:
        return False
    return True


def acquire_lock(lock_path, wait=None):
    """Take the rc's lock (ln -s $$ <path>.lock); False when still held by someone else after the wait."""
    me = str(os.getpid())
    deadline = time.monotonic() + (LOCK_WAIT if wait is None else wait)
    while True:
        try:
            os.symlink(me, lock_path)
            return True
        except FileExistsError:
            pass
        cleared = clear_stale_lock(lock_path)
        if time.monotonic() >= deadline:
            return False
        if not cleared:
            time.sleep(LOCK_STEP)


def release_lock(lock_path):
    """Remove the lock, only when it is still ours."""
    try:
        if os.readlink(lock_path) == str(os.getpid()):
            os.unlink(lock_path)
    except OSError:
        pass


# ---------------------------------------------------------------- changing files

def temp_name(path, what):
    directory, base = os.path.split(path)
    return os.path.join(directory, '.%s.%s.%d.%s' % (base, what, os.getpid(), os.urandom(4).hex()))


def replace_link(path, target):
    """Point path at target atomically: symlink under a temporary name, then rename over path."""
    tmp = temp_name(path, 'tmp')
    os.symlink(target, tmp)
    try:
        os.rename(tmp, path)
    except OSError:
        os.unlink(tmp)
        raise


def write_owner(path, target):
    """Write the rc's state file <path>.owner (temp file + rename, mode 0600)."""
    directory, base = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.owner.tmp.' % base, dir=directory)
    try:
        try:
            os.fchmod(fd, 0o600)
            data = b'manual ' + os.fsencode(target) + b'\n'
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            os.close(fd)
        os.rename(tmp, path + '.owner')
    except OSError:
        os.unlink(tmp)
        raise


def record_owner(path, target, warn):
    """Write the state file after a repair; the link is what counts, so a failed write
    (a full home) drops the old state file and warns instead of failing the repair."""
    try:
        write_owner(path, target)
    except OSError as exc:
        try:
            remove_if_present(path + '.owner')
        except OSError:
            pass
        if warn is not None:
            warn('repaired %s but could not write %s.owner (%s); the rc reads the link instead'
                 % (path, path, os_reason(exc)))


def remove_if_present(path):
    """Unlink path; True when something was removed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


# ---------------------------------------------------------------- states

def base_result(path, previous):
    return dict(path=path, previous_target=previous, target=previous, alive=False, keys=None,
                status=None, reason=None, candidates=[], changed=False)


def ensure_present(path, patterns, prefer='newest', timeout=1.0, check_mode=False, warn=None):
    """Check the link and repair it from the best live candidate; returns the module result."""
    uid = os.geteuid()
    check_parent(path, uid)
    kind, previous = read_link(path)
    require_link_or_missing(path, kind)
    result = base_result(path, previous)
    probed = {}
    if previous is None:
        result['reason'] = 'missing'
    else:
        reason, probe = link_problem(path, previous, uid, timeout, probed)
        if reason is None:
            result.update(status='ok', alive=True, keys=probe.keys)
            return result
        result['reason'] = reason

    candidates = find_candidates(patterns, path, uid, user_home())
    chosen, probe = choose_live(candidates, prefer, timeout, probed)
    result['candidates'] = describe_candidates(candidates, probed)
    if chosen is None:
        result['status'] = 'no_live_agent'
        return result

    result.update(status='repaired', changed=True, target=chosen, alive=True, keys=probe.keys)
    if not check_mode:
        fixed_meanwhile = install_link(path, chosen, previous, uid, timeout, warn)
        if fixed_meanwhile is not None:
            result.update(status='ok', changed=False, target=fixed_meanwhile[0], keys=fixed_meanwhile[1].keys)
    return result


def install_link(path, target, seen, uid, timeout, warn):
    """Replace the link under the rc's lock; returns (target, probe) when someone else repaired it meanwhile."""
    lock_path = path + '.lock'
    locked = acquire_lock(lock_path)
    if not locked and warn is not None:
        warn('%s is held by pid %s; repaired %s without the lock' % (lock_path, lock_holder(lock_path), path))
    try:
        kind, current = read_link(path)
        require_link_or_missing(path, kind)
        if current is not None and current != seen:
            reason, probe = link_problem(path, current, uid, timeout, {})
            if reason is None:
                return current, probe
        replace_link(path, target)
    except OSError as exc:
        raise AuthSockError('cannot repair %s: %s' % (path, exc))
    else:
        record_owner(path, target, warn)
    finally:
        if locked:
            release_lock(lock_path)
    return None


def ensure_absent(path, check_mode=False):
    """Remove the link (only a symlink) and the rc state file."""
    result = base_result(path, None)
    result['target'] = None
    if not os.path.isdir(os.path.dirname(path)):
        result['status'] = 'absent'
        return result
    check_parent(path, os.geteuid())
    kind, previous = read_link(path)
    require_link_or_missing(path, kind)
    owner = path + '.owner'
    result.update(previous_target=previous, status='removed' if previous is not None else 'absent')
    result['changed'] = previous is not None or os.path.lexists(owner)
    if check_mode or not result['changed']:
        return result
    lock_path = path + '.lock'
    locked = acquire_lock(lock_path)
    try:
        remove_if_present(path)
        remove_if_present(owner)
    except OSError as exc:
        raise AuthSockError('cannot remove %s: %s' % (path, exc))
    finally:
        if locked:
            release_lock(lock_path)
    return result


# ---------------------------------------------------------------- module glue

def link_diff(path, before, after):
    return dict(
        before='%s -> %s\n' % (path, before if before is not None else '(absent)'),
        after='%s -> %s\n' % (path, after if after is not None else '(absent)'),
        before_header=path,
        after_header=path,
    )


def no_agent_message(path, result):
    tried = result['candidates']
    if not tried:
        return 'no live SSH agent for %s (%s): no candidate socket matched the search patterns' % (path, result['reason'])
    listed = ['%s (%s)' % (c['path'], c['reason']) for c in tried[:MESSAGE_LIST_MAX]]
    if len(tried) > MESSAGE_LIST_MAX:
        listed.append('and %d more' % (len(tried) - MESSAGE_LIST_MAX))
    return 'no live SSH agent for %s (%s); tried %d candidate(s): %s' % (
        path, result['reason'], len(tried), ', '.join(listed))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            search=dict(type='list', elements='str', default=list(DEFAULT_SEARCH)),
            prefer=dict(type='str', default='newest', choices=['newest', 'oldest']),
            timeout=dict(type='float', default=1.0),
            fail_when_no_agent=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = os.path.abspath(params['path'] or default_link_path())
    if params['timeout'] <= 0:
        module.fail_json(msg='timeout must be greater than 0, got %s' % params['timeout'], path=path)

    try:
        if params['state'] == 'absent':
            result = ensure_absent(path, module.check_mode)
        else:
            result = ensure_present(path, params['search'], params['prefer'], params['timeout'],
                                    module.check_mode, module.warn)
    except AuthSockError as exc:
        module.fail_json(msg=str(exc), path=path)

    if module._diff:
        result['diff'] = link_diff(path, result['previous_target'], result['target'])
    if result['status'] == 'no_live_agent' and params['fail_when_no_agent']:
        module.fail_json(msg=no_agent_message(path, result), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
