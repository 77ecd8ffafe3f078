# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""forwarding_info's sshd reading: sshd -T -C per account as root (origins from the files), the files
without root (best effort), and the note when nothing can be read."""

from __future__ import annotations

import pytest

from ansible_collections.happyssh.agent.plugins.module_utils import sshd_settings as ss
from ansible_collections.happyssh.agent.plugins.modules import forwarding_info as fi

CONFIG = 'X11Forwarding yes\nAllowAgentForwarding yes\nMatch User bob\n  AllowAgentForwarding no\n'
ACCOUNTS = [dict(name='alice', can_login=True), dict(name='bob', can_login=True), dict(name='nol', can_login=False)]


class FakeModule:
    """run_command answers as sshd -T would: as root from a table per -C spec, else "no hostkeys"."""

    def __init__(self, root):
        self.root = root
        self.calls = []

    def get_bin_path(self, name, opt_dirs=None):
        return '/usr/sbin/sshd'

    def run_command(self, argv):
        self.calls.append(argv)
        if not self.root:
            return 1, '', 'sshd: no hostkeys available -- exiting.\n'
        agent = 'no' if argv[-1].startswith('user=bob,') else 'yes'
        return 0, 'x11forwarding yes\nallowagentforwarding %s\npermituserrc yes\n' % agent, ''


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / 'sshd_config'
    path.write_text(CONFIG)
    monkeypatch.setattr(ss, 'SSHD_CONFIG', str(path))
    monkeypatch.setattr(fi.socket, 'gethostname', lambda: 'box')
    return str(path)


def test_as_root_sshd_t_per_account_with_the_line_from_the_files(config):
    module = FakeModule(root=True)
    seen = fi.read_sshd(module, ACCOUNTS)
    assert ['-C', 'user=bob,host=box,addr=127.0.0.1'] == module.calls[2][2:]
    assert len(module.calls) == 3  # the host, alice, bob; not the account that cannot log in
    assert seen['sshd_accounts']['bob']['settings']['allowagentforwarding'] == dict(value='no', file=config, line=4)
    assert seen['sshd_accounts']['alice']['source'] == 'sshd -T'
    assert [(p['setting'], p['users']) for p in seen['sshd_problems']] == [('AllowAgentForwarding', ['bob'])]
    assert seen['sshd_reading']['method'] == 'sshd -T' and seen['sshd_reading']['note'] is None
    assert seen['sshd']['allowagentforwarding'] == 'yes'


def test_without_root_the_files_best_effort(config):
    seen = fi.read_sshd(FakeModule(root=False), ACCOUNTS)
    reading = seen['sshd_reading']
    assert (reading['method'], reading['best_effort'], reading['error']) == \
        ('files', True, 'sshd: no hostkeys available -- exiting.')
    assert seen['sshd_accounts']['bob']['source'] == 'files'
    assert seen['sshd_problems'][0]['message'].endswith('for bob (best-effort reading of the config files, without root)')


def test_nothing_readable_is_one_note(tmp_path, monkeypatch):
    monkeypatch.setattr(ss, 'SSHD_CONFIG', str(tmp_path / 'missing'))
    seen = fi.read_sshd(FakeModule(root=False), ACCOUNTS)
    assert seen['sshd'] is None and seen['sshd_accounts'] == {} and seen['sshd_problems'] == []
    assert seen['sshd_reading']['note'].startswith('no sshd setting could be read (sshd -T: sshd: no hostkeys')


def test_system_scope_without_accounts_reads_the_host(config, tmp_path):
    (tmp_path / 'sshd_config').write_text('X11Forwarding yes\nAllowAgentForwarding no\n')
    seen = fi.read_sshd(FakeModule(root=False), [])
    assert [(p['setting'], p['users']) for p in seen['sshd_problems']] == [('AllowAgentForwarding', [])]
    assert 'keep; set AllowAgentForwarding yes (best-effort' in seen['sshd_problems'][0]['message']


# ---------------------------------------------------------------- ~/.ssh writable by others

def seen_ssh(mode, gid, uid=0):
    return {'.': dict(type='directory', uid=uid, gid=gid, mode='0700'),
            '.ssh': dict(type='directory', uid=uid, gid=gid, mode=mode),
            '.ssh/ssh_auth_sock': dict(type='missing')}


ROOT_ACCOUNT = dict(name='root', uid=0, gid=0, home='/root')


def test_user_private_group_may_write_to_ssh():
    """umask 002 with a group of its own (Debian's user-private groups): sshd accepts it, so do we."""
    assert fi.account_problems(ROOT_ACCOUNT, seen_ssh('0775', 0), '.ssh/ssh_auth_sock') == []


@pytest.mark.parametrize('mode, gid', [('0775', 65534), ('0757', 0), ('0777', 0)])
def test_ssh_writable_by_other_accounts_is_refused(mode, gid):
    """A group that holds another account (nogroup is nobody's), or others' write bit."""
    problems = fi.account_problems(ROOT_ACCOUNT, seen_ssh(mode, gid), '.ssh/ssh_auth_sock')
    assert len(problems) == 1 and '/root/.ssh of user root is writable by group or others' in problems[0]
