# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The sshd_config reading without root (Include, globs, Match, first value wins, origins, unreadable files),
sshd -T parsing, the problems and their grouping, and the reading held against a real sshd -T -C."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils import sshd_settings as ss


def connection(user='alice', groups=('alice',), addr='127.0.0.1', host='box', lport='22'):
    return dict(user=user, groups=list(groups), host=host, addr=addr, laddr='127.0.0.1', lport=lport)


@pytest.fixture
def etc(tmp_path, monkeypatch):
    """A fake /etc/ssh: write(name, text) puts a file there; relative Includes resolve under it."""
    monkeypatch.setattr(ss, 'SSHD_DIR', str(tmp_path))

    def write(name, text):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)
    write.dir = str(tmp_path)
    return write


def setting(etc_write, text, keyword='allowagentforwarding', conn=None):
    config = ss.read_config(etc_write('sshd_config', text))
    return ss.evaluate(config, conn or connection())[keyword]


def test_global_first_value_wins_with_its_line(etc):
    seen = setting(etc, '# header\nAllowAgentForwarding no\nallowagentforwarding yes\n')
    assert seen == dict(value='no', file=etc.dir + '/sshd_config', line=2)


def test_default_when_unset(etc):
    assert setting(etc, 'Port 22\n') == dict(value='yes', file=None, line=None)
    assert setting(etc, 'Port 22\n', 'x11forwarding')['value'] == 'no'


def test_keyword_equals_form_and_case(etc):
    assert setting(etc, 'ALLOWAGENTFORWARDING=No\n')['value'] == 'no'


def test_include_glob_sorted_relative_to_etc_ssh_and_first_wins(etc):
    etc('sshd_config.d/20-late.conf', 'AllowAgentForwarding yes\n')
    etc('sshd_config.d/10-early.conf', '\n\nAllowAgentForwarding no\n')
    seen = setting(etc, 'Include sshd_config.d/*.conf\nAllowAgentForwarding yes\n')
    assert seen == dict(value='no', file=etc.dir + '/sshd_config.d/10-early.conf', line=3)


def test_match_user_wins_over_an_earlier_global_value(etc):
    text = 'AllowAgentForwarding yes\nMatch User bob,carol\n    AllowAgentForwarding no\n'
    assert setting(etc, text, conn=connection('bob'))['line'] == 3
    assert setting(etc, text, conn=connection('bob'))['value'] == 'no'
    assert setting(etc, text, conn=connection('alice'))['line'] == 1


def test_match_group_via_the_accounts_groups(etc):
    text = 'Match Group sftponly,admins\n  PermitUserRC no\n'
    assert setting(etc, text, 'permituserrc', connection(groups=['alice', 'admins']))['value'] == 'no'
    assert setting(etc, text, 'permituserrc', connection(groups=['alice']))['value'] == 'yes'


def test_negation_needs_a_positive_pattern_as_in_sshd(etc):
    only_negated = 'Match User !root\n  AllowAgentForwarding no\n'
    assert setting(etc, only_negated)['value'] == 'yes'
    everyone_but = 'Match User *,!alice\n  AllowAgentForwarding no\n'
    assert setting(etc, everyone_but, conn=connection('alice'))['value'] == 'yes'
    assert setting(etc, everyone_but, conn=connection('bob'))['value'] == 'no'
    groups = 'Match Group *,!wheel\n  AllowAgentForwarding no\n'
    assert setting(etc, groups, conn=connection(groups=['alice', 'wheel']))['value'] == 'yes'


def test_wildcards_and_all_criteria_must_match(etc):
    text = 'Match User a?ice Address 10.0.0.0/8\n  AllowAgentForwarding no\nMatch User al*\n  X11Forwarding no\n'
    assert setting(etc, text)['value'] == 'yes'
    assert setting(etc, text, conn=connection(addr='10.1.2.3'))['value'] == 'no'
    assert setting(etc, text, 'x11forwarding')['line'] == 4


def test_match_address_negation_and_cidr(etc):
    text = 'Match Address *,!127.0.0.0/8\n  AllowAgentForwarding no\n'
    assert setting(etc, text)['value'] == 'yes'
    assert setting(etc, text, conn=connection(addr='192.0.2.1'))['value'] == 'no'


def test_match_all_and_the_first_matching_block_wins(etc):
    text = ('AllowAgentForwarding no\nMatch User alice\n  AllowAgentForwarding yes\n'
            'Match all\n  AllowAgentForwarding no\n')
    assert setting(etc, text)['line'] == 3
    assert setting(etc, text, conn=connection('bob'))['line'] == 5


def test_match_host_and_local_port(etc):
    text = 'Match Host BOX\n  X11Forwarding no\nMatch LocalPort 2222\n  PermitUserRC no\n'
    assert setting(etc, text, 'x11forwarding')['value'] == 'no'
    assert setting(etc, text, 'permituserrc')['value'] == 'yes'
    assert setting(etc, text, 'permituserrc', connection(lport='2222'))['value'] == 'no'


def test_match_inside_an_include_ends_with_that_file(etc):
    etc('inc.conf', 'Match User bob\n  AllowAgentForwarding no\n')
    text = 'Include inc.conf\nAllowAgentForwarding yes\n'
    assert setting(etc, text)['value'] == 'yes'
    assert setting(etc, text)['line'] == 2
    assert setting(etc, text, conn=connection('bob'))['file'] == etc.dir + '/inc.conf'


def test_include_inside_a_match_block_is_conditional(etc):
    etc('alice.conf', 'AllowAgentForwarding no\n')
    text = 'Match User alice\n  Include alice.conf\n'
    assert setting(etc, text)['value'] == 'no'
    assert setting(etc, text, conn=connection('bob'))['value'] == 'yes'


def test_host_level_reading_ignores_match_blocks(etc):
    text = 'Match all\n  AllowAgentForwarding no\n'
    config = ss.read_config(etc('sshd_config', text))
    assert ss.evaluate(config, ss.connection_for(None, config, 'box'))['allowagentforwarding']['value'] == 'yes'


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads every file')
def test_unreadable_include_is_named(etc):
    secret = etc('secret.conf', 'AllowAgentForwarding no\n')
    os.chmod(secret, 0)
    config = ss.read_config(etc('sshd_config', 'Include secret.conf\n'))
    assert config.unreadable == [dict(path=secret, error='Permission denied')]


def test_unreadable_include_is_named_as_any_user(etc, monkeypatch):
    real_open = open

    def refusing(path, *args, **kwargs):
        if str(path).endswith('secret.conf'):
            raise PermissionError(13, 'Permission denied', path)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr('builtins.open', refusing)
    secret = etc('secret.conf', 'AllowAgentForwarding no\n')
    config = ss.read_config(etc('sshd_config', 'AllowAgentForwarding yes\nInclude secret.conf\n'))
    assert config.unreadable == [dict(path=secret, error='Permission denied')]
    assert ss.evaluate(config, connection())['allowagentforwarding']['line'] == 1


def test_unreadable_include_directory_is_named(etc, monkeypatch):
    etc('conf.d/a.conf', 'X11Forwarding no\n')
    monkeypatch.setattr(ss.os, 'access', lambda path, mode: not path.endswith('conf.d'))
    config = ss.read_config(etc('sshd_config', 'Include conf.d/*.conf\n'))
    assert config.unreadable[0] == dict(path=etc.dir + '/conf.d', error='Permission denied')


def test_missing_config_is_unreadable(tmp_path):
    config = ss.read_config(str(tmp_path / 'nope'))
    assert config.unreadable[0]['error'] == 'No such file or directory'


SSHD_T = """port 22
permituserrc no
allowagentforwarding no
x11forwarding yes
disableforwarding no
forcecommand none
hostkeyagent none
"""


def test_parse_sshd_t():
    assert ss.parse_sshd_t(SSHD_T) == dict(permituserrc='no', allowagentforwarding='no', x11forwarding='yes',
                                           disableforwarding='no', forcecommand='none')


def test_connection_spec():
    assert ss.connection_spec('alice', 'box') == 'user=alice,host=box,addr=127.0.0.1'


def test_origins_only_where_the_files_agree_with_sshd(etc):
    config = ss.read_config(etc('sshd_config', 'AllowAgentForwarding no\nPermitUserRC yes\n'))
    merged = ss.with_origins(ss.parse_sshd_t(SSHD_T), ss.evaluate(config, connection()))
    assert merged['allowagentforwarding'] == dict(value='no', file=etc.dir + '/sshd_config', line=1)
    assert merged['permituserrc'] == dict(value='no', file=None, line=None)


DEVSEC_HEADER = '#\n# Ansible managed\n#\n# Generated by Ansible role devsec.hardening.ssh_hardening\n\n'


def problems_of(etc, text, user='alice'):
    config = ss.read_config(etc('sshd_config', text))
    return ss.problems(config, ss.evaluate(config, connection(user)))


def test_problems_name_origin_fix_and_the_hardening_role(etc):
    found = problems_of(etc, DEVSEC_HEADER + 'AllowAgentForwarding no\nX11Forwarding no\n')
    agent, x11 = found
    assert (agent['setting'], agent['line'], agent['fix'], agent['part']) == \
        ('AllowAgentForwarding', 6, 'AllowAgentForwarding yes', 'agent')
    assert 'devsec.hardening.ssh_hardening' in agent['hint'] and 'ssh_allow_agent_forwarding' in agent['hint']
    assert (x11['setting'], x11['part'], x11['fix']) == ('X11Forwarding', 'x11', 'X11Forwarding yes')


def test_disable_forwarding_overrides_both(etc):
    found = problems_of(etc, 'AllowAgentForwarding yes\nX11Forwarding yes\nDisableForwarding yes\n')
    assert [(p['setting'], p['part'], p['fix']) for p in found] == [('DisableForwarding', 'agent',
                                                                     'DisableForwarding no')]


def test_force_command_skips_the_user_rc(etc):
    found = problems_of(etc, 'X11Forwarding yes\nMatch User alice\n  ForceCommand /usr/bin/menu --x\n')
    assert [(p['setting'], p['value'], p['part'], p['line']) for p in found] == \
        [('ForceCommand', '/usr/bin/menu --x', 'rc', 3)]


def test_no_problem_on_a_permissive_host(etc):
    assert problems_of(etc, 'X11Forwarding yes\n') == []


def test_grouped_once_over_accounts_with_a_ready_message(etc):
    text = 'X11Forwarding yes\nAllowAgentForwarding no\nMatch User carol\n  PermitUserRC no\n'
    config = ss.read_config(etc('sshd_config', text))
    per_account = [(name, ss.problems(config, ss.evaluate(config, connection(name))))
                   for name in ('alice', 'bob', 'carol')]
    groups = ss.grouped(per_account, best_effort=True)
    assert [(g['setting'], g['users']) for g in groups] == [('AllowAgentForwarding', ['alice', 'bob', 'carol']),
                                                            ('PermitUserRC', ['carol'])]
    assert groups[0]['message'] == (
        'AllowAgentForwarding no (%s/sshd_config:2): there is no forwarded agent to keep;'
        ' set AllowAgentForwarding yes for alice, bob, carol (best-effort reading of the config files, without root)'
        % etc.dir)


def test_hint_for_a_file_managed_by_ansible_without_a_role_name(etc):
    found = problems_of(etc, '# Ansible managed\nAllowAgentForwarding no\n')
    assert 'managed by Ansible' in found[0]['hint']


# The same configs through a real sshd -T -C: set HAPPYSSH_SSHD to an sshd that can run -T here (root, its
# privilege separation user and /run/sshd); Molecule's hardened scenario does the same inside each image.
SSHD = os.environ.get('HAPPYSSH_SSHD') or shutil.which('sshd') or '/usr/sbin/sshd'

CONFORMANCE = [
    ('AllowAgentForwarding no\nMatch User bob\n  AllowAgentForwarding yes\n', ['alice', 'bob']),
    ('Match User *,!alice\n  X11Forwarding no\nMatch all\n  PermitUserRC no\n', ['alice', 'bob']),
    ('Match Group root\n  DisableForwarding yes\n', ['root', 'nobody']),
    ('Match Address 10.0.0.0/8\n  AllowAgentForwarding no\nMatch Address 127.0.0.0/8,!10.0.0.1\n'
     '  X11Forwarding yes\n', ['root']),
    ('Include {dir}/inc/*.conf\nAllowAgentForwarding yes\n', ['root', 'nobody']),
]


def real_sshd_works(tmp_path):
    if not os.access(SSHD, os.X_OK):
        return False
    proc = subprocess.run([SSHD, '-T', '-f', '/dev/null', '-h', str(host_key(tmp_path))],
                          capture_output=True, check=False)
    return proc.returncode == 0


def host_key(tmp_path):
    key = tmp_path / 'hostkey'
    if not key.exists():
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key)], check=True)
    return key


@pytest.mark.parametrize('text,users', CONFORMANCE)
def test_reading_agrees_with_real_sshd(tmp_path, monkeypatch, text, users):
    if not real_sshd_works(tmp_path):
        pytest.skip('no sshd that can run -T here (set HAPPYSSH_SSHD)')
    (tmp_path / 'inc').mkdir()
    (tmp_path / 'inc' / 'b.conf').write_text('Match User nobody\n  PermitUserRC no\n')
    (tmp_path / 'inc' / 'a.conf').write_text('AllowAgentForwarding no\n')
    path = tmp_path / 'sshd_config'
    path.write_text(text.format(dir=tmp_path))
    config = ss.read_config(str(path))
    for user in users:
        spec = ss.connection_spec(user, 'box')
        proc = subprocess.run([SSHD, '-T', '-f', str(path), '-h', str(host_key(tmp_path)), '-C', spec],
                              capture_output=True, text=True, check=True)
        real = ss.parse_sshd_t(proc.stdout)
        conn = ss.connection_for(user, config, 'box')
        mine = dict((k, v['value']) for k, v in ss.evaluate(config, conn).items())
        assert mine == real, (user, text)
