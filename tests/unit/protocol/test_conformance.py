# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""docs/protocol.md, once for both sides: every row of conformance_cases.yml sets up the same
sessions (real ssh-agents, stand-in sshds) and asks the shell keeper (a login or the prompt hook
under each shell, or one of its functions through `happyssh-link call`) and the module auth_sock
(in-process: ensure_present, or the matching function of agent_link) the same question. Where the
two answer differently on purpose, the row says so per side and protocol.md gives the reason.

The "Who keeps the link" table of protocol.md is read here too: its rows and the table's cases
must be the same, and each case's expected result must be what the row's decision cells say."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.happyssh.agent.plugins.module_utils import agent_link
from ansible_collections.happyssh.agent.plugins.modules import auth_sock
from homes import ROOT  # pylint: disable=import-error

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOL = os.path.join(ROOT, 'docs', 'protocol.md')
NOBODY = 65534
OTHER_HOST = 'hostb'
PROBE_TIMEOUT = 2.0

with open(os.path.join(HERE, 'conformance_cases.yml')) as _handle:
    CASES = yaml.safe_load(_handle)
IDS = [case['id'] for case in CASES]


def expected(case, side):
    value = case['expect']
    return value[side] if isinstance(value, dict) else value


# ---------------------------------------------------------------- setting a case up

def module_search(env):
    """The module's own default search patterns, as they read in this test's home and /tmp, so a
    wrong default fails here instead of hiding behind patterns written out by hand."""
    return [pattern.replace('/tmp/', env.real('/tmp') + '/', 1).replace('~/', env.home + '/', 1)
            for pattern in auth_sock.DEFAULT_SEARCH]


def make_session(env, spec):
    connection = None
    if spec.get('hop') == 'link':
        connection = env.local_client(env.link)
    elif spec.get('hop') == 'elsewhere':
        connection = env.local_client('/tmp/ssh-elsewhere/agent.1')
    sess = env.session(spec['name'], tty=spec.get('tty', False), layout=spec.get('layout', 'tmp'),
                       sshd_name='sshd' if spec.get('sshd', True) else 'bash', connection=connection,
                       host=OTHER_HOST if spec.get('host') == 'other' else None)
    sess.connection = connection
    return sess


def spoil(env, sess, spec):
    """What the row says went wrong with a session after it was set up."""
    state = spec.get('state', 'alive')
    if state == 'stale':
        sess.kill_sshd()
    elif state == 'gone':
        sess.remove()
    elif state == 'hung':
        sess.hang()
    if spec.get('uid') == 'nobody':
        os.chown(sess.real, NOBODY, NOBODY)
    if spec.get('socket') == 'symlink':
        moved = os.path.join(sess.real_dir, 'sock')
        os.rename(sess.real, moved)
        os.symlink(moved, sess.real)
    directory = spec.get('dir')
    if directory == 'nobody':
        os.chown(sess.real_dir, NOBODY, NOBODY)
    elif directory == 'symlink':
        moved = sess.real_dir + '-moved'
        os.rename(sess.real_dir, moved)
        os.symlink(os.path.basename(moved), sess.real_dir)
        env.moved.append(moved)
    elif directory is not None:
        os.chmod(sess.real_dir, int(directory, 8))


def link_owner(env, case, sessions, side):
    """The host's link, the home's link and .owner as the keeper leaves them after linking the
    owner; the module (run from here) sees the paths as they are here."""
    owner = case.get('owner', 'none')
    if owner == 'none':
        return

    def view(sess):
        return sess.sock if side == 'keeper' else sess.real

    os.symlink(view(sessions[owner]), env.sock)
    os.symlink(env.host_link if side == 'keeper' else env.sock, env.link)
    tty = [spec.get('tty', False) for spec in case['sessions'] if spec['name'] == owner][0]
    kind, named = case.get('owner_file', [case.get('owner_kind', 'tty' if tty else 'notty'), owner])
    with open(env.state, 'w') as handle:
        handle.write('%s %s\n' % (kind, view(sessions[named])))


def take_lock(env, how):
    if how == 'stale':
        dead = subprocess.Popen(['true'])
        dead.wait()
        os.symlink(str(dead.pid), env.lock)
    elif how == 'live':
        env.foreign_lock = str(os.getpid())
        os.symlink(env.foreign_lock, env.lock)


def set_up(env, case, side):
    sessions = {}
    for spec in case.get('sessions', []):
        sessions[spec['name']] = make_session(env, spec)
    link_owner(env, case, sessions, side)
    for spec in case.get('sessions', []):
        spoil(env, sessions[spec['name']], spec)
    take_lock(env, case.get('lock'))
    return sessions


def name_of(sessions, path):
    if path is None:
        return None
    for name, sess in sessions.items():
        if path in (sess.sock, sess.real):
            return name
    return path


def linked(env, sessions):
    target = env.target() if os.path.islink(env.sock) else None
    return name_of(sessions, target)


# ---------------------------------------------------------------- asking each side

def keeper_call(env, shell, *argv):
    return env.hook(shell, 'call', *argv).returncode == 0


def ask_keeper(env, shell, case, sessions):
    call = case['call']
    if 'trust' in call:
        sock = sessions[call['trust']].sock
        return 'trusted' if keeper_call(env, shell, 'hs_ours', sock) and keeper_call(env, shell, 'hs_private', sock) \
            else 'untrusted'
    if 'loops' in call:
        sess = sessions[call['loops']]
        return 'loop' if keeper_call(env, shell, 'hs_leads_to_link', sess.sock, sess.connection or '') else 'no loop'
    if 'prompt' in call:
        env.hook(shell, 'prompt')
    else:
        sess = sessions[call['login']]
        extra = {'SSH_CONNECTION': sess.connection} if sess.connection else None
        env.login(shell, sess, tty=call.get('tty', False), extra=extra)
    return linked(env, sessions)


def ask_module(env, case, sessions, warnings):
    call = case['call']
    if 'trust' in call:
        cand = agent_link.inspect_candidate(sessions[call['trust']].real, env.link, os.geteuid(), {})
        return 'trusted' if cand.reason is None else 'untrusted'
    if 'loops' in call:
        sess = sessions[call['loops']]
        return 'loop' if agent_link.leads_to_link(sess.real, env.link, agent_link.session_connection(sess.real)) \
            else 'no loop'
    auth_sock.ensure_present(env.link, module_search(env), timeout=PROBE_TIMEOUT, warn=warnings.append,
                             host_dir=env.hostdir)
    return linked(env, sessions)


def check_after(env, case, side):
    kinds = case.get('kind')
    if kinds:
        assert env.owner()[0] == kinds[side]
    lock_after = case.get('lock_after')
    if lock_after == 'gone':
        assert not os.path.lexists(env.lock)
    elif lock_after == 'held':
        assert os.readlink(env.lock) == env.foreign_lock


@pytest.fixture(scope='module')
def hot_path_shells():
    """Shells in which the rc part's hot path can decide (it needs test -O and -ef)."""
    cache = {}

    def has_hot_path(shell):
        key = tuple(shell)
        if key not in cache:
            cache[key] = subprocess.run(shell + ['-c', '[ -O / ] && [ / -ef / ]'], stderr=subprocess.DEVNULL,
                                        check=False).returncode == 0
        return cache[key]
    return has_hot_path


def needs_other_host(env, case):
    if any(spec.get('host') == 'other' for spec in case.get('sessions', [])) and not env.namespaced:
        pytest.skip('this host must not be %s' % OTHER_HOST)


@pytest.fixture
def moved(env):
    """Directories a case moved away from under a symlink (see spoil): removed afterwards."""
    env.moved = []
    yield env
    for path in env.moved:
        subprocess.run(['rm', '-rf', '--', path], check=False)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_keeper(moved, shell, case, hot_path_shells):
    env = moved
    needs_other_host(env, case)
    sessions = set_up(env, case, 'keeper')
    want = expected(case, 'keeper')
    if 'expect_full' in case and not hot_path_shells(shell):
        want = case['expect_full']
    assert ask_keeper(env, shell, case, sessions) == want
    check_after(env, case, 'keeper')


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_module(moved, case):
    env = moved
    needs_other_host(env, case)
    sessions = set_up(env, case, 'module')
    warnings = []
    assert ask_module(env, case, sessions, warnings) == expected(case, 'module')
    check_after(env, case, 'module')
    if case.get('lock_after') == 'held':
        assert warnings and 'without the lock' in warnings[0]


# ---------------------------------------------------------------- the document and the table

def who_keeps_rows():
    """The rows of protocol.md's "Who keeps the link" table as lists of cells."""
    with open(PROTOCOL) as handle:
        text = handle.read()
    section = text.split('\n## Who keeps the link\n', 1)[1].split('\n## ', 1)[0]
    lines = [line for line in section.splitlines() if line.startswith('|')]
    assert len(lines) > 2, 'no table under "Who keeps the link"'
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    assert header == ['login', 'current owner', 'keeper', 'module (`auth_sock`)'], header
    return [[cell.strip() for cell in line.strip('|').split('|')] for line in lines[2:]]


def decision(cell):
    """What a decision cell says the link leads to: kept (the owner), own (the login's socket),
    choose (another), choose-not-own (another, never the login's)."""
    if cell.startswith('kept'):
        return 'kept'
    if cell.startswith('*own*'):
        return 'own'
    assert cell.startswith('**choose**'), 'a decision starts with kept, *own* or **choose**: %r' % cell
    return 'choose-not-own' if 'without *own*' in cell else 'choose'


def test_who_keeps_table_and_cases_are_the_same_rows():
    doc = [tuple(row[:2]) for row in who_keeps_rows()]
    assert len(doc) == len(set(doc)), 'a row twice in protocol.md'
    cases = set(tuple(case['table']) for case in CASES if 'table' in case)
    assert sorted(set(doc) - cases) == [], 'rows of protocol.md without a case'
    assert sorted(cases - set(doc)) == [], 'cases naming no row of protocol.md'


@pytest.mark.parametrize('case', [c for c in CASES if 'table' in c], ids=[c['id'] for c in CASES if 'table' in c])
def test_case_expects_what_its_row_says(case):
    row = dict((tuple(r[:2]), r[2:]) for r in who_keeps_rows())[tuple(case['table'])]
    login = case['call']['login']
    tty = case['call'].get('tty', False)
    assert case['table'][0].startswith('tty') == tty or case['table'][0] == 'any'
    assert ('hop' in case['table'][0]) == any(s.get('hop') == 'link' and s['name'] == login for s in case['sessions'])
    for side, cell in zip(('keeper', 'module'), row):
        want = expected(case, side)
        says = decision(cell)
        if says == 'kept':
            assert want == case['owner'], (side, cell)
        elif says == 'own':
            assert want == login, (side, cell)
        else:
            assert want != case['owner'], (side, cell)
            assert says == 'choose' or want != login, (side, cell)


# ---------------------------------------------------------------- parameters both sides share

def test_probe_bound_is_the_same_everywhere():
    """The module's default timeout, the role's forwarding_probe_timeout, the keeper's own default
    and the bound repair.yml passes are one number, so both sides call the same agents alive."""
    with open(os.path.join(ROOT, 'roles', 'forwarding', 'defaults', 'main.yml')) as handle:
        role = yaml.safe_load(handle)['forwarding_probe_timeout']
    documented = yaml.safe_load(auth_sock.DOCUMENTATION)['options']['timeout']['default']
    with open(os.path.join(ROOT, 'roles', 'forwarding', 'files', 'happyssh-link')) as handle:
        keeper = re.search(r"'' \| \*\[!0-9\]\*\) hs_timeout=([0-9]+) ;;", handle.read()).group(1)
    with open(os.path.join(ROOT, 'roles', 'forwarding', 'templates', 'rc.j2')) as handle:
        assert 'hs_timeout={{ forwarding_probe_timeout }}' in handle.read()
    assert role == documented == int(keeper) == PROBE_TIMEOUT
    assert auth_sock.ensure_present.__defaults__[1] == role
    with open(os.path.join(ROOT, 'playbooks', 'repair.yml')) as handle:
        plays = yaml.safe_load(handle)
    repair = [task for task in plays[0]['tasks'] if 'happyssh.agent.auth_sock' in task][0]
    assert repair['happyssh.agent.auth_sock']['timeout'] == "{{ forwarding_probe_timeout | default(%d) }}" % role


def test_module_searches_both_layouts_by_default():
    """The conformance runs use the module's own defaults; they cover both OpenSSH layouts."""
    documented = yaml.safe_load(auth_sock.DOCUMENTATION)['options']['search']['default']
    assert documented == agent_link.DEFAULT_SEARCH == ['/tmp/ssh-*/agent.*', '~/.ssh/agent/s.*.sshd.*']
