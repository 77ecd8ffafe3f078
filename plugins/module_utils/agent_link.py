# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The agent link, Python side: trust, liveness, choice, loops, lock and replacement.

The shell side is roles/forwarding/files/happyssh-link; both follow docs/protocol.md, and
tests/unit/protocol/test_conformance.py runs the same cases against both. Nothing here imports Ansible, so the
modules and the tests use it alike.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import pwd
import re
import socket
import stat
import struct
import tempfile
import time
from collections import namedtuple

from ansible_collections.happyssh.agent.plugins.module_utils.file_kinds import WRITABLE_BY_OTHERS, kind_of

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
LOOP_REASON = 'leads back to the link'
OTHER_HOST_REASON = 'socket of another host'

# alive: bool, keys: int or None, reason: str or None
Probe = namedtuple('Probe', ['alive', 'keys', 'reason'])
# reason is None for a trusted candidate
Candidate = namedtuple('Candidate', ['path', 'mtime', 'reason'])
# kind: tty, notty or None (no running sshd of that name); start: clock ticks since boot or None
Session = namedtuple('Session', ['pid', 'kind', 'start'])


class AgentLinkError(Exception):
    """A problem that fails the task; the message names the path concerned."""


# ---------------------------------------------------------------- user and paths

def user_home():
    """Home directory of the effective user, from the password database."""
    return pwd.getpwuid(os.geteuid()).pw_dir


def default_link_path():
    return os.path.join(user_home(), '.ssh', 'ssh_auth_sock')


def default_host_dir():
    """This host's directory of the effective user, where the keeper keeps the host's link."""
    return '/tmp/happyssh-' + pwd.getpwuid(os.geteuid()).pw_name


def host_link_path(host_dir):
    """This host's link inside its directory; the link in the home points here."""
    return os.path.join(host_dir, 'agent')


HASH_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
HASH_LEN = 10
SOCKET_HOST = re.compile(r'/s\.([^/.]+)\.sshd\.[0-9]+\.[^/]*$')


def host_hash(hostname=None):
    """The hostname hash OpenSSH 10.1 and later put in forwarded socket names (misc-agent.c):
    SHA-512 of gethostname(), the first HASH_LEN bytes each taken modulo 62 into [a-zA-Z0-9]."""
    name = socket.gethostname() if hostname is None else hostname
    digest = hashlib.sha512(os.fsencode(name)).digest()
    return ''.join(HASH_CHARS[byte % len(HASH_CHARS)] for byte in bytearray(digest[:HASH_LEN]))


def socket_host(sock_path):
    """The hostname hash in an OpenSSH >= 10.1 socket name, or None for names that carry none
    (/tmp/ssh-*/agent.<pid> is of this host by place)."""
    match = SOCKET_HOST.search(sock_path)
    return match.group(1) if match else None


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
        raise AgentLinkError('cannot read search directory %s' % root)


def check_parent(path, uid):
    """The directory of the link must exist and belong to the user."""
    parent = os.path.dirname(path)
    try:
        st = os.stat(parent)
    except OSError:
        raise AgentLinkError('parent directory %s of %s does not exist' % (parent, path))
    if not stat.S_ISDIR(st.st_mode):
        raise AgentLinkError('parent %s of %s is not a directory' % (parent, path))
    if st.st_uid != uid:
        raise AgentLinkError('parent directory %s of %s is owned by uid %d, not by the user (uid %d)'
                             % (parent, path, st.st_uid, uid))


def read_link(path):
    """Return (kind, target): kind is missing, symlink, file, directory or other."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 'missing', None
    except OSError as exc:
        raise AgentLinkError('cannot read %s: %s' % (path, exc))
    kind = kind_of(st)
    if kind != 'symlink':
        return kind, None
    try:
        return kind, os.readlink(path)
    except OSError as exc:
        raise AgentLinkError('cannot read %s: %s' % (path, exc))


def require_link_or_missing(path, kind):
    if kind not in ('missing', 'symlink'):
        what = {'file': 'a regular file', 'directory': 'a directory'}.get(kind, 'not a symlink')
        raise AgentLinkError('%s exists and is %s; refusing to replace it' % (path, what))


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
    if st.st_mode & WRITABLE_BY_OTHERS:
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
    if reason is None and socket_host(sock_path) not in (None, host_hash()):
        reason = OTHER_HOST_REASON
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


def link_problem(link_path, target, uid, timeout, probed, home_link=None):
    """Return (reason, probe): reason is None when link_path -> target leads to a live trusted agent.
    home_link: the link in the home that leads to link_path, which must not be the target either and
    is what a hop's client forwards (default: link_path itself)."""
    home_link = link_path if home_link is None else home_link
    resolved = os.path.normpath(os.path.join(os.path.dirname(link_path), target))
    if resolved == home_link:
        return 'is the link itself', None
    cand = inspect_candidate(resolved, link_path, uid, {})
    if cand.reason in ('is the link itself', 'no such file'):
        return cand.reason, None
    if cand.reason is not None:
        return 'untrusted: %s' % cand.reason, None
    if leads_to_link(resolved, home_link, session_connection(resolved)):
        return LOOP_REASON, None
    probe = probe_cached(resolved, timeout, probed)
    return probe.reason, probe


# ---------------------------------------------------------------- sessions

SOCKET_PID = (re.compile(r'/agent\.([0-9]+)$'), re.compile(r'/s\.[^/]*\.sshd\.([0-9]+)\.[^/.]*$'))


def sshd_pid_of(sock_path):
    """The session's sshd pid that OpenSSH puts in the socket name, or None."""
    for pattern in SOCKET_PID:
        match = pattern.search(sock_path)
        if match:
            return int(match.group(1))
    return None


def read_proc(pid, name):
    try:
        with open('/proc/%d/%s' % (pid, name), 'rb') as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def session_of(sock_path):
    """The connection a socket belongs to: its sshd's kind (tty or notty) and start time."""
    pid = sshd_pid_of(sock_path)
    if pid is None:
        return Session(None, None, None)
    cmdline = read_proc(pid, 'cmdline')
    if not cmdline or not cmdline.startswith(b'sshd'):
        return Session(pid, None, None)
    title = cmdline.split(b'\0')[0]
    kind = 'tty' if (b'@pts/' in title or b'@tty' in title) else 'notty'
    stat_line = read_proc(pid, 'stat') or b''
    fields = stat_line.rpartition(b') ')[2].split()
    start = int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None
    return Session(pid, kind, start)


def choice_key(cand, prefer):
    """Sort key of a trusted candidate. interactive: a tty session first, then the session that
    has lived longest, then sockets without a running sshd, newest first (the rc's rule)."""
    if prefer != 'interactive':
        return (cand.mtime, cand.path)
    session = session_of(cand.path)
    rank = {'tty': 0, 'notty': 1}.get(session.kind, 2)
    if session.start is None:
        return (rank, 0, -cand.mtime, cand.path)
    return (rank, session.start, 0, cand.path)


# ---------------------------------------------------------------- loops

LOOP_DEPTH = 4


def environ_of(pid):
    """SSH_AUTH_SOCK and SSH_CONNECTION of a process we may read, else (None, None)."""
    data = read_proc(pid, 'environ')
    found = {}
    for entry in (data or b'').split(b'\0'):
        name, sep, value = entry.partition(b'=')
        if sep and name in (b'SSH_AUTH_SOCK', b'SSH_CONNECTION'):
            found[name] = os.fsdecode(value)
    return found.get(b'SSH_AUTH_SOCK'), found.get(b'SSH_CONNECTION')


def own_pids():
    uid = os.geteuid()
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                if os.stat('/proc/' + entry).st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def session_connection(sock_path):
    """SSH_CONNECTION of the session a socket belongs to: from the environment of the first child
    of its sshd that has one (the session's shell or command), or None."""
    pid = sshd_pid_of(sock_path)
    if pid is None:
        return None
    children = read_proc(pid, 'task/%d/children' % pid) or b''
    for child in children.split():
        dummy, connection = environ_of(int(child))
        if connection:
            return connection
    return None


def local_origin(connection):
    """(client port, server port) of an SSH_CONNECTION from this host, else None."""
    fields = (connection or '').split()
    if len(fields) != 4 or not (fields[1].isdigit() and fields[3].isdigit()):
        return None
    client, server = fields[0], fields[2]
    loopback = client.startswith('127.') or client in ('::1',) or client.startswith('::ffff:127.')
    if not loopback and client != server:
        return None
    return int(fields[1]), int(fields[3])


def tcp_inode(local_port, remote_port):
    """Inode of the TCP socket on this host with these local and remote ports, or None."""
    suffix = (':%04X' % local_port, ':%04X' % remote_port)
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[1].endswith(suffix[0]) and fields[2].endswith(suffix[1]):
                return fields[9]
    return None


def holder_of(inode):
    """Pid of our process that holds socket:[inode], or None."""
    wanted = 'socket:[%s]' % inode
    for pid in own_pids():
        try:
            fds = os.listdir('/proc/%d/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == wanted:
                    return pid
            except OSError:
                continue
    return None


def leads_to_link(sock_path, link_path, connection):
    """True when the agent at sock_path is reached through link_path: a hop back into this host
    (ssh -A from a shell whose SSH_AUTH_SOCK is the link), followed through up to LOOP_DEPTH
    hops, deeper counting as a loop. connection: the SSH_CONNECTION of the socket's session."""
    for dummy in range(LOOP_DEPTH):
        if sock_path == link_path or (os.path.islink(sock_path) and same_file(sock_path, link_path)):
            return True
        ports = local_origin(connection)
        if ports is None:
            return False
        inode = tcp_inode(*ports)
        pid = holder_of(inode) if inode not in (None, '0') else None
        if pid is None:
            return False
        sock_path, connection = environ_of(pid)
        if not sock_path:
            return False
    return True


def same_file(one, other):
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


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
    trusted.sort(key=lambda c: choice_key(c, prefer), reverse=(prefer == 'newest'))
    return trusted


def choose_live(candidates, prefer, timeout, probed, link_path=None):
    """Probe trusted candidates in order of preference; return (path, probe) of the first live one
    that does not lead back to link_path (its reason becomes 'leads back to the link')."""
    for cand in order_trusted(candidates, prefer):
        if link_path is not None and leads_to_link(cand.path, link_path, session_connection(cand.path)):
            probed[cand.path] = Probe(False, None, LOOP_REASON)
            continue
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
    except (ProcessLookupError, OverflowError):  # OverflowError: no pid is that large
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
    """Remove the lock when its holder no longer exists or it names no process at all (as the
    rc does); never a file or directory in its place. True when removed."""
    try:
        target = os.readlink(lock_path)
    except OSError:
        return False
    if re.fullmatch('[0-9]+', target) and pid_alive(int(target)):
        return False
    try:
        if os.readlink(lock_path) != target:
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


def write_state(path, target):
    """Write the state file <path>.owner, the keeper's $hs_state (temp file + rename, mode 0600)."""
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


def record_state(path, target, warn):
    """Write the state file after a repair; the link is what counts, so a failed write
    (a full home) drops the old state file and warns instead of failing the repair."""
    try:
        write_state(path, target)
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


def check_host_dir(host_dir, uid, create):
    """This host's directory must be a real directory of the user that nobody else can write to;
    a missing one is made (mode 0700) when create is true. True when it exists afterwards."""
    if create:
        try:
            os.mkdir(host_dir, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise AgentLinkError('cannot create %s: %s' % (host_dir, os_reason(exc)))
    problem = _directory_problem(host_dir, uid)
    if problem == 'no such directory' and not create:
        return False
    if problem is not None:
        # The check is written for a socket's directory: here the path itself is the directory.
        problem = 'not a directory' if problem == 'parent is not a directory' else problem
        raise AgentLinkError('%s is not a private directory of the user (%s); refusing to keep the link there'
                             % (host_dir, problem))
    return True
