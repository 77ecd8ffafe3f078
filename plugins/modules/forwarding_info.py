#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: forwarding_info
short_description: What happyssh.agent.forwarding needs to know about a host, in one run
version_added: 0.2.0
description:
  - The read-only look of the role C(happyssh.agent.forwarding) at a host, in one module run. It changes nothing.
  - Resolves the accounts to set up, looks at the paths the role would write in each home (type, owner, mode,
    and for a symlink the owner of its target, never following it further), and lists what would defeat the
    setup as RV(problems), each naming the path.
  - Reads the sshd settings that decide whether the setup works, per account (RV(sshd_accounts)), as root with
    C(sshd -T -C user=<name>,host=<this host's name>,addr=127.0.0.1), so C(Match User) and C(Match Group) blocks
    count; without root (C(sshd -T) needs the host keys) by reading C(/etc/ssh/sshd_config) and its C(Include)d
    files the way sshd evaluates them, a best-effort reading (RV(sshd_reading)). Both evaluate a login from
    127.0.0.1 to this host under its own name, so a C(Match Address) or C(Match Host) block for other networks is
    not seen. Each value names the file and line it comes from (from the files; C(sshd -T) does not say).
  - Lists what in those settings defeats the setup as RV(sshd_problems), one entry per setting and origin with
    the accounts it concerns, each with the setting that would make it work.
  - Reads the tmux version with tmux's own default C(update-environment), and whether screen is installed.
author:
  - happyssh.agent contributors (@happyssh)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  users:
    description:
      - Accounts to look at. Empty means the account the module runs as. A comma-separated string is a list.
    type: list
    elements: str
    default: []
  link:
    description: Path of the stable agent link, relative to each home directory.
    type: str
    default: .ssh/ssh_auth_sock
  paths:
    description:
      - Paths relative to each home directory that the role may write or read. The role passes every dotfile of its
        parts (C(__forwarding_look_paths), derived from its table of parts), so a new part is looked at too.
      - The home directory, C(.ssh) and O(link) are always looked at.
      - Before 0.3.0 the default was the role's dotfiles of the time.
    type: list
    elements: str
    default: []
  scope:
    description: V(system) also lists the homes whose own C(~/.ssh/rc) makes sshd skip C(/etc/ssh/sshrc).
    type: str
    choices: [user, system]
    default: user
"""

EXAMPLES = r"""
- name: Look at alice and bob
  happyssh.agent.forwarding_info:
    users: [alice, bob]
  register: host

- name: Show the problems found
  ansible.builtin.debug:
    var: host.problems
"""

RETURN = r"""
user:
  description: The account the module ran as.
  returned: always
  type: str
  sample: root
escalate:
  description: True when the module ran unprivileged and was asked about other accounts (run it with become).
  returned: always
  type: bool
accounts:
  description: The accounts found, in the order asked.
  returned: always
  type: list
  elements: dict
  sample: [{name: alice, uid: 1000, gid: 1000, home: /home/alice, shell: bash, login_shell: /bin/bash, can_login: true}]
  contains:
    shell:
      description: The login shell's name (C(bash), C(zsh), ...).
      type: str
    login_shell:
      description: The login shell as the password database has it.
      type: str
      version_added: 0.3.0
    can_login:
      description:
        - V(false) when the login shell runs no session (C(nologin), C(false), C(git-shell)), so sshd never runs
          the account's C(~/.ssh/rc); such an account is not looked at further and the role skips it.
      type: bool
      version_added: 0.3.0
missing_users:
  description: Names asked for that the password database does not know.
  returned: always
  type: list
  elements: str
paths:
  description:
    - Per account name, per relative path, what is there, without following symlinks.
    - C(type) is V(file), V(directory), V(symlink), V(missing) or V(other); C(uid), C(gid) and C(mode) ("0NNN")
      describe the path itself; for a symlink C(target) and C(target_uid) (V(null) when dangling).
  returned: always
  type: dict
problems:
  description: What would defeat the setup or make it unsafe, each message naming the path.
  returned: always
  type: list
  elements: str
sshd:
  description:
    - The sshd settings that matter (lower-case names) outside any C(Match) block, from C(sshd -T) as root, else
      from the config files; V(null) when neither could be read.
    - C(disableforwarding) and C(forcecommand) since 0.3.0.
  returned: always
  type: dict
  sample: {permituserrc: 'yes', allowagentforwarding: 'yes', x11forwarding: 'no', disableforwarding: 'no',
           forcecommand: none}
sshd_accounts:
  description:
    - Per account name, C(source) (V(sshd -T) or V(files), the best-effort reading) and C(settings), per
      lower-case setting its C(value), C(file) and C(line) (V(null) for sshd's built-in default, or when the files
      do not explain the value sshd -T gave).
  returned: always
  type: dict
  version_added: 0.3.0
  sample: {alice: {source: files, settings: {allowagentforwarding: {value: 'no', file: /etc/ssh/sshd_config,
           line: 42}}}}
sshd_problems:
  description:
    - What in the sshd settings defeats the setup, one entry per setting, value and origin, for all the accounts
      it concerns (without accounts, O(scope=system), the settings outside C(Match) blocks).
    - C(part) is V(agent) (no forwarded agent), V(rc) (sshd does not run the user's C(~/.ssh/rc), by
      C(PermitUserRC no) or a C(ForceCommand)) or V(x11) (C(X11Forwarding no)); C(fix) the setting that would
      make it work; C(hint) who wrote the file when its text tells (a hardening role), else V(null);
      C(message) all of it in one line.
  returned: always
  type: list
  elements: dict
  version_added: 0.3.0
  sample: [{setting: AllowAgentForwarding, value: 'no', file: /etc/ssh/sshd_config, line: 42, part: agent,
            fix: AllowAgentForwarding yes, users: [alice, bob], hint: null,
            effect: there is no forwarded agent to keep,
            message: "AllowAgentForwarding no (/etc/ssh/sshd_config:42): there is no forwarded agent to keep;
                      set AllowAgentForwarding yes for alice, bob"}]
sshd_reading:
  description:
    - How the sshd settings were read. C(method) V(sshd -T), V(files) (best effort, without root) or V(none);
      C(best_effort); C(error) why C(sshd -T) did not run; C(unreadable) the files or directories that could not
      be read (C(path), C(error)); C(note) one sentence on what the check could not see, V(null) when it saw all.
  returned: always
  type: dict
  version_added: 0.3.0
tmux:
  description: V(null) without tmux; else C(version) ("3.3") and C(update_environment), tmux's default list.
  returned: always
  type: dict
screen:
  description: Whether screen is installed.
  returned: always
  type: bool
homes_with_rc:
  description: With O(scope=system), the homes that hold a C(.ssh/rc) of their own.
  returned: always
  type: list
  elements: str
"""

import os
import pwd
import re
import socket
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.happyssh.agent.plugins.module_utils import sshd_settings as sshd_lib
from ansible_collections.happyssh.agent.plugins.module_utils.file_kinds import WRITABLE_BY_OTHERS, group_of_one, kind_of

# Login shells that run no session: sshd runs ~/.ssh/rc through the shell, so nothing of the role
# would ever run for these accounts.
NO_SESSION_SHELLS = ('nologin', 'false', 'git-shell')


def look(path):
    """What is at path, never following a symlink beyond reading where it points."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return dict(type='missing')
    except OSError as exc:
        return dict(type='unreadable', error=exc.strerror)
    seen = dict(type=kind_of(st), uid=st.st_uid, gid=st.st_gid, mode='0%o' % stat.S_IMODE(st.st_mode))
    if seen['type'] == 'symlink':
        seen['target'] = os.readlink(path)
        try:
            seen['target_uid'] = os.stat(path).st_uid
        except OSError:
            seen['target_uid'] = None
    return seen


def owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


def writable_by_others(seen, uid):
    """Group or others may write, beyond a user-private group's write bit (umask 002)."""
    mode = int(seen['mode'], 8)
    if mode & WRITABLE_BY_OTHERS & ~0o020:
        return True
    return bool(mode & 0o020) and not group_of_one(seen['gid'], uid)


def account_problems(account, seen, link):
    """Why the role must not touch this account, each naming the path."""
    home = account['home']
    if seen['.']['type'] not in ('directory', 'symlink'):
        return ['home directory %s of user %s does not exist' % (home, account['name'])]
    problems = []
    ssh = seen['.ssh']
    if ssh['type'] != 'missing':
        if ssh.get('uid') != account['uid'] or (ssh['type'] == 'symlink' and ssh.get('target_uid') != account['uid']):
            problems.append('%s/.ssh of user %s is owned by %s; refusing to install an rc that sshd would run from it'
                            % (home, account['name'], owner_name(ssh.get('target_uid') or ssh.get('uid'))))
        elif ssh['type'] == 'directory' and writable_by_others(ssh, account['uid']):
            problems.append('%s/.ssh of user %s is writable by group or others (mode %s); refusing to install an rc'
                            ' that sshd would run from it' % (home, account['name'], ssh['mode']))
    if seen[link]['type'] not in ('missing', 'symlink'):
        problems.append('%s/%s exists and is not a symlink; it is where the stable agent link goes (forwarding_link):'
                        ' move it away or choose another forwarding_link' % (home, link))
    for rel, what in sorted(seen.items()):
        if rel in ('.', '.ssh', link) or what['type'] != 'symlink':
            continue
        if what.get('target_uid') is not None and what['target_uid'] != account['uid']:
            problems.append('%s/%s is a symlink to %s, owned by %s, not by %s; refusing to write through it'
                            % (home, rel, what['target'], owner_name(what['target_uid']), account['name']))
    return problems


def resolve_accounts(names):
    accounts, missing = [], []
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            missing.append(name)
            continue
        shell = entry.pw_shell or '/bin/sh'
        accounts.append(dict(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir,
                             shell=os.path.basename(shell), login_shell=shell,
                             can_login=os.path.basename(shell) not in NO_SESSION_SHELLS))
    return accounts, missing


def run_sshd_t(module, sshd, args):
    """sshd -T's settings, or None with sshd's own complaint (unprivileged: no hostkeys available)."""
    rc, out, err = module.run_command([sshd, '-T'] + args)
    if rc != 0:
        return None, (err or out).strip().splitlines()[-1:] or ['exit status %d' % rc]
    return sshd_lib.parse_sshd_t(out), None


def account_sshd(module, sshd, config, host, name):
    """One account's settings: sshd -T -C's values with the files' origins when sshd runs, else the files."""
    parsed = sshd_lib.evaluate(config, sshd_lib.connection_for(name, config, host))
    values = run_sshd_t(module, sshd, ['-C', sshd_lib.connection_spec(name, host)])[0] if sshd else None
    if values is not None:
        return dict(source='sshd -T', settings=sshd_lib.with_origins(values, parsed))
    return dict(source='files', settings=parsed) if sshd_lib.SSHD_CONFIG in config.headers else None


def host_sshd(config, host, host_values):
    """The settings outside Match blocks: sshd -T's with origins, else the files', else None."""
    parsed = sshd_lib.evaluate(config, sshd_lib.connection_for(None, config, host))
    if host_values is not None:
        return sshd_lib.with_origins(host_values, parsed)
    return parsed if sshd_lib.SSHD_CONFIG in config.headers else None


def read_sshd(module, accounts):
    """The sshd settings per account (sshd -T -C as root, else the config files read as this user), the
    host-level ones (no Match block) and what defeats the setup, grouped over the accounts."""
    sshd = module.get_bin_path('sshd', opt_dirs=['/usr/sbin', '/usr/local/sbin'])
    config = sshd_lib.read_config()
    host = socket.gethostname()
    host_values, error = run_sshd_t(module, sshd, []) if sshd else (None, ['sshd is not installed'])
    privileged = host_values is not None
    per_account = {}
    for account in (a for a in accounts if a['can_login']):
        seen = account_sshd(module, sshd if privileged else None, config, host, account['name'])
        if seen is not None:
            per_account[account['name']] = seen
    host_settings = host_sshd(config, host, host_values)
    readable = sshd_lib.SSHD_CONFIG in config.headers
    best_effort = any(seen['source'] == 'files' for seen in per_account.values()) or (not privileged and readable)
    found = [(name, sshd_lib.problems(config, seen['settings'])) for name, seen in per_account.items()]
    if not any(a['can_login'] for a in accounts) and host_settings is not None:
        found = [(None, sshd_lib.problems(config, host_settings))]
    reading = dict(method='sshd -T' if privileged else ('files' if readable else 'none'), best_effort=best_effort,
                   error=None if privileged else '; '.join(error), unreadable=config.unreadable,
                   note=reading_note(privileged, readable, error, config.unreadable))
    legacy = dict((k, v['value']) for k, v in host_settings.items()) if host_settings is not None else None
    return dict(sshd=legacy, sshd_accounts=per_account, sshd_problems=sshd_lib.grouped(found, best_effort),
                sshd_reading=reading)


def reading_note(privileged, readable, error, unreadable):
    """What the sshd check could not see, in one sentence (None when it saw everything)."""
    if not privileged and not readable:
        return ('no sshd setting could be read (sshd -T: %s; %s: %s): PermitUserRC, AllowAgentForwarding and'
                ' X11Forwarding are not checked' % ('; '.join(error), sshd_lib.SSHD_CONFIG,
                                                    ', '.join(u['error'] for u in unreadable) or 'missing'))
    if unreadable:
        return ('sshd settings in %s could not be read (%s): the sshd check may miss what they set'
                % (', '.join(u['path'] for u in unreadable), ', '.join(sorted(set(u['error'] for u in unreadable)))))
    return None


def read_tmux(module):
    tmux = module.get_bin_path('tmux')
    if tmux is None:
        return None
    rc, out, dummy = module.run_command([tmux, '-V'])
    match = re.search(r'([0-9]+)\.([0-9]+)', out)
    version = '%s.%s' % match.groups() if rc == 0 and match else '0.0'
    rc, out, dummy = module.run_command([tmux, '-L', 'happyssh-probe-%d' % os.getpid(), '-f', '/dev/null',
                                         'start-server', ';', 'show-options', '-g', 'update-environment'])
    names = []
    for line in out.splitlines():
        option, dummy, value = line.partition(' ')
        if option.startswith('update-environment'):
            for name in value.replace('"', ' ').split():
                if name != 'SSH_AUTH_SOCK' and name not in names:
                    names.append(name)
    return dict(version=version, update_environment=names)


def homes_with_rc():
    homes = sorted(set(entry.pw_dir for entry in pwd.getpwall()))
    return [home for home in homes if os.path.lexists(os.path.join(home, '.ssh', 'rc'))]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            users=dict(type='list', elements='str', default=[]),
            link=dict(type='str', default='.ssh/ssh_auth_sock'),
            paths=dict(type='list', elements='str', default=[]),
            scope=dict(type='str', default='user', choices=['user', 'system']),
        ),
        supports_check_mode=True,
    )
    params = module.params
    me = pwd.getpwuid(os.geteuid()).pw_name
    names = [name.strip() for name in params['users'] if name.strip()]
    if params['scope'] == 'user' and not names:
        names = [me]
    accounts, missing = resolve_accounts(names)
    paths, problems = {}, []
    for account in (a for a in accounts if a['can_login']):
        seen = dict((rel, look(os.path.join(account['home'], rel)))
                    for rel in ['.', '.ssh', params['link']] + params['paths'])
        paths[account['name']] = seen
        problems.extend(account_problems(account, seen, params['link']))
    module.exit_json(
        changed=False, user=me, escalate=os.geteuid() != 0 and any(a['name'] != me for a in accounts),
        accounts=accounts, missing_users=missing, paths=paths, problems=problems,
        tmux=read_tmux(module), screen=module.get_bin_path('screen') is not None,
        homes_with_rc=homes_with_rc() if params['scope'] == 'system' else [],
        **read_sshd(module, accounts)
    )


if __name__ == '__main__':
    main()
