# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import time

import pytest

from ansible.module_utils import basic

from agents import FakeAgent, stale_socket  # pylint: disable=import-error
from ansible_collections.happyssh.agent.plugins.module_utils import agent_link
from ansible_collections.happyssh.agent.plugins.modules import auth_sock

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19 reads the arguments from basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args):
        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root')


# ---------------------------------------------------------------- fake sockets

def set_mtime(path, when):
    os.utime(path, (when, when), follow_symlinks=False)


class Box:
    """A temporary /tmp-like tree with OpenSSH style socket directories and a home with ~/.ssh."""

    def __init__(self):
        self.top = tempfile.mkdtemp(dir='/tmp', prefix='hs')
        self.home = os.path.join(self.top, 'h')
        self.ssh = os.path.join(self.home, '.ssh')
        os.makedirs(self.ssh, mode=0o700)
        self.link = os.path.join(self.ssh, 'ssh_auth_sock')
        # This host's directory and link, where the link in the home leads.
        self.host_dir = os.path.join(self.top, 'happyssh-me')
        self.host_link = os.path.join(self.host_dir, 'agent')
        os.mkdir(self.host_dir, 0o700)
        self.pattern = os.path.join(self.top, 'ssh-*', 'agent.*')
        self.agents = []
        self.count = 0

    def sock_dir(self, mode=0o700):
        self.count += 1
        path = os.path.join(self.top, 'ssh-%010d' % self.count)
        os.mkdir(path)
        os.chmod(path, mode)
        return path

    def sock_path(self, mode=0o700):
        return os.path.join(self.sock_dir(mode), 'agent.%d' % (1000 + self.count))

    def agent(self, mode='keys', keys=2, dir_mode=0o700):
        agent = FakeAgent(self.sock_path(dir_mode), mode, keys)
        self.agents.append(agent)
        return agent.path

    def stale(self, dir_mode=0o700):
        return stale_socket(self.sock_path(dir_mode))

    def point(self, target):
        """The steady state: this host's link leads to target, the home's link to this host's link."""
        os.symlink(target, self.host_link)
        os.symlink(self.host_link, self.link)

    def target(self):
        """Where this host's link leads; the home's link must lead to this host's link."""
        assert os.readlink(self.link) == self.host_link
        return os.readlink(self.host_link)

    def cleanup(self):
        for agent in self.agents:
            agent.stop()
        shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def box():
    b = Box()
    yield b
    b.cleanup()


@pytest.fixture
def run(box, capsys):
    """Run main() with module args; returns the result dict (failed results have failed=True)."""

    def _run(check=False, diff=False, **args):
        args.setdefault('path', box.link)
        args.setdefault('host_dir', box.host_dir)
        args.setdefault('search', [box.pattern])
        args.setdefault('timeout', 0.5)
        args['_ansible_check_mode'] = check
        args['_ansible_diff'] = diff
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                auth_sock.main()
        return json.loads(capsys.readouterr().out.strip())

    return _run


def listing(directory):
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------- liveness probe

def test_probe_live_agent_returns_key_count(box):
    probe = agent_link.probe_agent(box.agent(keys=3), 0.5)
    assert probe == agent_link.Probe(True, 3, None)


def test_probe_reads_reply_in_several_pieces(box):
    assert agent_link.probe_agent(box.agent(mode='split', keys=4), 2.0) == agent_link.Probe(True, 4, None)


def test_probe_agent_without_keys_is_live(box):
    assert agent_link.probe_agent(box.agent(keys=0), 0.5) == agent_link.Probe(True, 0, None)


def test_probe_stale_socket_is_refused(box):
    assert agent_link.probe_agent(box.stale(), 0.5) == agent_link.Probe(False, None, 'refused')


def test_probe_hung_socket_times_out(box):
    started = time.monotonic()
    assert agent_link.probe_agent(box.agent(mode='hang'), 0.2) == agent_link.Probe(False, None, 'timeout')
    assert time.monotonic() - started < 5


@pytest.mark.parametrize('mode, reason', [
    ('garbage', 'garbage reply'),
    ('failure', 'agent failure'),
    ('close', 'connection closed'),
])
def test_probe_bad_replies_are_dead(box, mode, reason):
    assert agent_link.probe_agent(box.agent(mode=mode), 0.5) == agent_link.Probe(False, None, reason)


def test_probe_missing_socket(box):
    assert agent_link.probe_agent(os.path.join(box.top, 'nothing'), 0.5).reason == 'no such file'


def test_parse_rejects_impossible_key_count():
    body = bytes([12]) + struct.pack('>I', 1000)
    assert agent_link.parse_identities(body) == agent_link.Probe(False, None, 'garbage reply')


# ---------------------------------------------------------------- trust

def candidate_reason(box, path):
    return agent_link.inspect_candidate(path, box.link, os.geteuid(), {}).reason


def test_trusted_socket(box):
    assert candidate_reason(box, box.stale()) is None


def test_regular_file_is_not_a_socket(box):
    path = os.path.join(box.sock_dir(), 'agent.1')
    with open(path, 'w'):
        pass
    assert candidate_reason(box, path) == 'not a socket'


def test_symlink_candidate_is_skipped(box):
    target = box.agent()
    path = os.path.join(box.sock_dir(), 'agent.1')
    os.symlink(target, path)
    assert candidate_reason(box, path) == 'symlink'


def test_group_writable_directory_is_skipped(box):
    assert candidate_reason(box, box.stale(dir_mode=0o770)) == 'directory writable by others'


def test_symlinked_directory_is_skipped(box):
    real = box.agent()
    alias = os.path.join(box.top, 'ssh-alias')
    os.symlink(os.path.dirname(real), alias)
    assert candidate_reason(box, os.path.join(alias, os.path.basename(real))) == 'directory is a symlink'


@needs_root
def test_socket_of_other_user_is_skipped(box):
    path = box.stale()
    os.chown(path, NOBODY, NOBODY)
    assert candidate_reason(box, path) == 'not owned by user'


@needs_root
def test_directory_of_other_user_is_skipped(box):
    path = box.stale()
    os.chown(os.path.dirname(path), NOBODY, NOBODY)
    assert candidate_reason(box, path) == 'directory not owned by user'


# ---------------------------------------------------------------- state=present

def test_live_link_is_left_alone(box, run):
    agent = box.agent(keys=1)
    box.point(agent)
    result = run()
    assert result['changed'] is False
    assert result['status'] == 'ok'
    assert (result['target'], result['previous_target']) == (agent, agent)
    assert result['alive'] is True and result['key_count'] == 1
    assert result['candidates'] == []
    assert box.target() == agent
    assert listing(box.ssh) == ['ssh_auth_sock']


def test_relative_live_link_is_ok(box, run):
    agent = box.agent()
    box.point(os.path.relpath(agent, box.host_dir))
    assert run()['status'] == 'ok'


def test_dangling_link_is_repaired(box, run):
    old = os.path.join(box.top, 'ssh-gone', 'agent.1')
    box.point(old)
    agent = box.agent(keys=2)
    result = run()
    assert result['changed'] is True
    assert result['status'] == 'repaired'
    assert result['previous_target'] == old
    assert result['target'] == agent
    assert result['reason'] == 'no such file'
    assert result['key_count'] == 2 and result['alive'] is True
    assert box.target() == agent
    # the state file (agent.owner), written atomically, nothing else left behind (no temp names, no lock)
    assert listing(box.ssh) == ['ssh_auth_sock']
    assert listing(box.host_dir) == ['agent', 'agent.owner']
    with open(box.host_link + '.owner') as owner:
        assert owner.read() == 'manual %s\n' % agent
    assert stat.S_IMODE(os.stat(box.host_link + '.owner').st_mode) == 0o600


def test_missing_link_is_created(box, run):
    agent = box.agent()
    result = run()
    assert result['status'] == 'repaired' and result['reason'] == 'missing'
    assert result['previous_target'] is None
    assert box.target() == agent


def test_link_to_itself_is_repaired(box, run):
    box.point(box.link)
    agent = box.agent()
    result = run()
    assert result['status'] == 'repaired'
    assert result['reason'] == 'is the link itself'
    assert box.target() == agent


def test_link_to_stale_socket_is_repaired(box, run):
    stale = box.stale()
    box.point(stale)
    set_mtime(stale, time.time() + 100)
    agent = box.agent()
    result = run()
    assert result['reason'] == 'refused'
    assert box.target() == agent
    by_path = {c['path']: c for c in result['candidates']}
    assert by_path[stale] == dict(path=stale, alive=False, reason='refused')
    assert by_path[agent] == dict(path=agent, alive=True, reason=None)


@needs_root
def test_other_users_agent_is_never_chosen(box, run):
    foreign = box.agent(keys=5)
    os.chown(foreign, NOBODY, NOBODY)
    box.point(foreign)
    result = run()
    assert result['status'] == 'no_live_agent'
    assert result['reason'] == 'untrusted: not owned by user'
    assert result['candidates'] == [dict(path=foreign, alive=None, reason='not owned by user')]
    assert box.target() == foreign


@needs_root
def test_link_to_untrusted_socket_is_repaired(box, run):
    foreign = box.agent()
    os.chown(foreign, NOBODY, NOBODY)
    box.point(foreign)
    mine = box.agent()
    result = run()
    assert result['status'] == 'repaired'
    assert result['reason'].startswith('untrusted')
    assert box.target() == mine


def test_group_writable_directory_is_never_chosen(box, run):
    agent = box.agent(dir_mode=0o775)
    result = run()
    assert result['status'] == 'no_live_agent'
    assert result['candidates'] == [dict(path=agent, alive=None, reason='directory writable by others')]
    assert not os.path.lexists(box.link)


def test_link_itself_in_search_is_skipped(box, run):
    box.point(os.path.join(box.top, 'missing'))
    result = run(search=[box.link])
    assert result['candidates'] == [dict(path=box.link, alive=None, reason='is the link itself')]


def test_check_mode_changes_nothing(box, run):
    old = box.stale()
    box.point(old)
    agent = box.agent()
    result = run(check=True)
    assert result['changed'] is True
    assert result['status'] == 'repaired'
    assert result['target'] == agent
    assert box.target() == old
    assert listing(box.ssh) == ['ssh_auth_sock']


def test_check_mode_live_link_is_ok(box, run):
    agent = box.agent()
    box.point(agent)
    result = run(check=True, diff=True)
    assert (result['changed'], result['status']) == (False, 'ok')
    assert result['diff']['before'] == result['diff']['after']


def test_diff(box, run):
    old = os.path.join(box.top, 'old')
    box.point(old)
    agent = box.agent()
    result = run(diff=True)
    assert result['diff'] == dict(
        before='%s -> %s\n' % (box.link, old),
        after='%s -> %s\n' % (box.link, agent),
        before_header=box.link,
        after_header=box.link,
    )


def test_diff_of_missing_link_and_no_diff_without_diff_mode(box, run):
    agent = box.agent()
    assert run(diff=True, check=True)['diff']['before'] == '%s -> (absent)\n' % box.link
    assert 'diff' not in run()
    assert box.target() == agent


def test_regular_file_in_the_way_fails_untouched(box, run):
    with open(box.link, 'w') as handle:
        handle.write('precious\n')
    box.agent()
    result = run()
    assert result['failed'] is True
    assert box.link in result['msg'] and 'regular file' in result['msg']
    with open(box.link) as handle:
        assert handle.read() == 'precious\n'


def test_directory_in_the_way_fails_untouched(box, run):
    os.mkdir(box.link)
    box.agent()
    result = run()
    assert result['failed'] is True
    assert box.link in result['msg'] and 'directory' in result['msg']
    assert os.path.isdir(box.link) and not os.path.islink(box.link)


def test_missing_parent_fails(box, run):
    path = os.path.join(box.top, 'nope', 'ssh_auth_sock')
    result = run(path=path)
    assert result['failed'] is True
    assert os.path.join(box.top, 'nope') in result['msg']


@needs_root
def test_parent_of_other_user_fails(box, run):
    os.chown(box.ssh, NOBODY, NOBODY)
    result = run()
    assert result['failed'] is True
    assert box.ssh in result['msg'] and 'owned' in result['msg']


def test_no_live_agent_leaves_dead_link(box, run):
    dead = box.stale()
    box.point(dead)
    result = run()
    assert not result.get('failed')
    assert result['changed'] is False
    assert result['status'] == 'no_live_agent'
    assert result['alive'] is False and result['key_count'] is None
    assert result['target'] == dead
    assert box.target() == dead


def test_no_live_agent_fails_when_asked(box, run):
    dead = box.stale()
    box.point(dead)
    result = run(fail_when_no_agent=True)
    assert result['failed'] is True
    assert result['status'] == 'no_live_agent'
    assert '%s (refused)' % dead in result['msg']
    assert box.target() == dead


def test_no_candidates_at_all(box, run):
    result = run(fail_when_no_agent=True)
    assert result['failed'] is True
    assert 'no candidate' in result['msg']
    assert not os.path.lexists(box.link)


@pytest.mark.parametrize('prefer', ['newest', 'oldest'])
def test_prefer(box, run, prefer):
    older, newer = box.agent(), box.agent()
    now = time.time()
    set_mtime(older, now - 100)
    set_mtime(newer, now)
    result = run(prefer=prefer)
    expected = newer if prefer == 'newest' else older
    assert box.target() == expected
    other = older if prefer == 'newest' else newer
    assert dict(path=other, alive=None, reason='not probed') in result['candidates']


def test_probing_stops_at_first_live(box, run):
    now = time.time()
    newer_stale, live, older_stale = box.stale(), box.agent(), box.stale()
    for path, age in ((newer_stale, 0), (live, 10), (older_stale, 20)):
        set_mtime(path, now - age)
    result = run()
    assert result['target'] == live
    assert result['candidates'] == [
        dict(path=newer_stale, alive=False, reason='refused'),
        dict(path=live, alive=True, reason=None),
        dict(path=older_stale, alive=None, reason='not probed'),
    ]


def test_hung_candidate_is_skipped(box, run):
    hung = box.agent(mode='hang')
    set_mtime(hung, time.time() + 100)
    agent = box.agent()
    result = run(timeout=0.2)
    assert result['target'] == agent
    assert dict(path=hung, alive=False, reason='timeout') in result['candidates']


def test_search_tilde_is_the_users_home(box, run, monkeypatch):
    monkeypatch.setattr(auth_sock, 'user_home', lambda: box.home)
    monkeypatch.setattr(agent_link, 'user_home', lambda: box.home)
    monkeypatch.setenv('HOME', '/nonexistent')
    agent_dir = os.path.join(box.ssh, 'agent')
    os.mkdir(agent_dir, 0o700)
    agent = FakeAgent(os.path.join(agent_dir, 's.abc123.sshd.4242'))
    box.agents.append(agent)
    result = run(path=None, search=['~/.ssh/agent/s.*.sshd.*'])
    assert result['path'] == box.link
    assert box.target() == agent.path


def test_missing_search_directory_is_normal(box, run):
    result = run(search=[os.path.join(box.home, '.ssh', 'agent', 's.*.sshd.*')])
    assert result['status'] == 'no_live_agent'


def test_unreadable_search_root_fails(box, run, monkeypatch):
    real_access = os.access
    root = os.path.join(box.top, 'locked')
    os.mkdir(root)

    def access(path, mode, **kwargs):
        if path == root:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(auth_sock.os, 'access', access)
    result = run(search=[os.path.join(root, 'ssh-*', 'agent.*')])
    assert result['failed'] is True
    assert root in result['msg']


def test_user_home_comes_from_password_database(monkeypatch):
    import pwd
    monkeypatch.setenv('HOME', '/nonexistent')
    assert auth_sock.user_home() == pwd.getpwuid(os.geteuid()).pw_dir
    assert agent_link.default_link_path() == os.path.join(auth_sock.user_home(), '.ssh', 'ssh_auth_sock')


def test_expand_home():
    import pwd
    root_home = pwd.getpwuid(0).pw_dir
    assert agent_link.expand_home('~', '/h/me') == '/h/me'
    assert agent_link.expand_home('~/.ssh/agent/s.*', '/h/me') == '/h/me/.ssh/agent/s.*'
    assert agent_link.expand_home('~root/x', '/h/me') == root_home + '/x'
    assert agent_link.expand_home('/tmp/ssh-*/agent.*', '/h/me') == '/tmp/ssh-*/agent.*'
    assert agent_link.expand_home('~no-such-user-hs/x', '/h/me') == '~no-such-user-hs/x'


def test_glob_root():
    assert agent_link.glob_root('/tmp/ssh-*/agent.*') == '/tmp'
    assert agent_link.glob_root('/home/a/.ssh/agent/s.*.sshd.*') == '/home/a/.ssh/agent'
    assert agent_link.glob_root('/*/x') == '/'


def test_bad_timeout_fails(box, run):
    assert run(timeout=0)['failed'] is True


def test_ten_thousand_stale_candidates(box, run):
    stale = [box.stale() for dummy in range(10000)]
    live = box.agent()
    set_mtime(live, time.time() - 3600)
    result = run()
    assert result['status'] == 'repaired'
    assert box.target() == live
    assert len(result['candidates']) == 10001
    reasons = [c['reason'] for c in result['candidates'] if c['path'] != live]
    assert reasons == ['refused'] * len(stale)


# ---------------------------------------------------------------- lock shared with the rc

def dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


def test_stale_lock_is_broken(box, run):
    os.symlink(str(dead_pid()), box.host_link + '.lock')
    agent = box.agent()
    result = run()
    assert result['status'] == 'repaired'
    assert 'warnings' not in result
    assert box.target() == agent
    assert not os.path.lexists(box.host_link + '.lock')


def test_held_lock_is_waited_for_then_ignored(box, run, monkeypatch):
    monkeypatch.setattr(agent_link, 'LOCK_WAIT', 0.3)
    holder = subprocess.Popen(['sleep', '30'])
    try:
        os.symlink(str(holder.pid), box.host_link + '.lock')
        agent = box.agent()
        started = time.monotonic()
        result = run()
        assert time.monotonic() - started >= 0.3
        assert result['status'] == 'repaired'
        assert box.target() == agent
        # plain strings before ansible-core 2.19, structured summaries since
        assert 'held by pid %d' % holder.pid in json.dumps(result['warnings'])
        assert os.readlink(box.host_link + '.lock') == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_released_only_when_ours(box):
    lock = box.host_link + '.lock'
    assert agent_link.acquire_lock(lock, wait=0) is True
    assert os.readlink(lock) == str(os.getpid())
    agent_link.release_lock(lock)
    assert not os.path.lexists(lock)
    os.symlink('1', lock)
    agent_link.release_lock(lock)
    assert os.readlink(lock) == '1'


def test_acquire_lock_gives_up_on_live_holder(box):
    lock = box.host_link + '.lock'
    os.symlink(str(os.getppid()), lock)
    assert agent_link.acquire_lock(lock, wait=0.1) is False
    assert os.readlink(lock) == str(os.getppid())


# ---------------------------------------------------------------- state=absent

def test_absent_removes_symlink_and_owner_file(box, run):
    box.point(os.path.join(box.top, 'whatever'))
    with open(box.host_link + '.owner', 'w') as handle:
        handle.write('tty /tmp/x\n')
    result = run(state='absent', diff=True)
    assert (result['changed'], result['status']) == (True, 'removed')
    assert result['previous_target'] == os.path.join(box.top, 'whatever')
    assert result['diff']['after'] == '%s -> (absent)\n' % box.link
    assert listing(box.ssh) == []


def test_absent_check_mode_removes_nothing(box, run):
    box.point(os.path.join(box.top, 'whatever'))
    result = run(state='absent', check=True)
    assert (result['changed'], result['status']) == (True, 'removed')
    assert os.path.islink(box.link)


def test_absent_when_missing(box, run):
    result = run(state='absent')
    assert (result['changed'], result['status']) == (False, 'absent')


def test_absent_keeps_regular_file(box, run):
    with open(box.link, 'w') as handle:
        handle.write('precious\n')
    result = run(state='absent')
    assert result['failed'] is True
    assert box.link in result['msg']
    with open(box.link) as handle:
        assert handle.read() == 'precious\n'


@pytest.mark.parametrize('short', [False, True], ids=['write-fails', 'short-write'])
def test_full_home_repairs_link_and_drops_state_file(box, run, monkeypatch, short):
    """A full home: the link is repaired (renaming needs no space), the state file is neither
    left half written nor stale, and the module says so in a warning instead of failing."""
    old = box.stale()
    box.point(old)
    with open(box.host_link + '.owner', 'w') as handle:
        handle.write('tty %s\n' % old)
    agent = box.agent()

    def write(fd, data):
        if short:
            return 0
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(auth_sock.os, 'write', write)
    result = run()
    monkeypatch.undo()
    assert (result['status'], result['changed']) == ('repaired', True)
    assert box.target() == agent
    assert listing(box.ssh) == ['ssh_auth_sock']
    warnings = json.dumps(result['warnings'])
    assert 'agent.owner' in warnings and 'no space left on device' in warnings


def test_link_never_goes_missing_during_repair(box, run, monkeypatch):
    """Every filesystem step of a repair happens while a link is in place (temp name, then rename)."""
    old = box.stale()
    box.point(old)
    agent = box.agent()
    seen = []

    def spy(name):
        real = getattr(os, name)

        def call(*args, **kwargs):
            seen.append((name, os.path.lexists(box.link)))
            return real(*args, **kwargs)

        monkeypatch.setattr(os, name, call)

    for name in ('symlink', 'rename', 'replace', 'unlink', 'remove'):
        spy(name)
    result = run()
    monkeypatch.undo()
    assert result['status'] == 'repaired'
    assert box.target() == agent
    assert ('symlink', True) in seen
    assert all(present for dummy, present in seen), seen


# ---------------------------------------------------------------- this host's directory

def test_missing_host_directory_is_made_private(box, run):
    os.rmdir(box.host_dir)
    agent = box.agent()
    result = run()
    assert (result['status'], result['host_link']) == ('repaired', box.host_link)
    assert stat.S_IMODE(os.lstat(box.host_dir).st_mode) == 0o700
    assert box.target() == agent


def test_check_mode_makes_no_host_directory(box, run):
    os.rmdir(box.host_dir)
    box.agent()
    result = run(check=True)
    assert result['status'] == 'repaired'
    assert not os.path.lexists(box.host_dir)
    assert not os.path.lexists(box.link)


@pytest.mark.parametrize('how', ['group-writable', 'symlink', 'file'])
def test_host_directory_that_is_not_private_fails_naming_it(box, run, how):
    os.rmdir(box.host_dir)
    if how == 'group-writable':
        os.mkdir(box.host_dir)
        os.chmod(box.host_dir, 0o770)
    elif how == 'symlink':
        os.mkdir(box.host_dir + '-real', 0o700)
        os.symlink(box.host_dir + '-real', box.host_dir)
    else:
        with open(box.host_dir, 'w'):
            pass
    box.agent()
    result = run()
    assert result['failed'] is True
    assert box.host_dir in result['msg'] and 'not a private directory' in result['msg']
    assert not os.path.lexists(box.link)


def test_direct_link_in_the_home_is_migrated_keeping_its_live_target(box, run):
    """0.2.0 (and the blog recipe) pointed the home's link at the socket itself."""
    agent = box.agent(keys=1)
    os.symlink(agent, box.link)
    result = run()
    assert (result['status'], result['changed'], result['target']) == ('ok', True, agent)
    assert box.target() == agent
    assert run()['changed'] is False
