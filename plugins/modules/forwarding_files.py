#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: forwarding_files
short_description: Write the files of happyssh.agent.forwarding for many accounts in one run
version_added: 0.2.0
description:
  - The write step of the role C(happyssh.agent.forwarding), every file of every account in one module run.
  - Each account's files are looked at and written by a child process that has become that account (its groups,
    gid and uid), so nothing a user put in their home can redirect a write made with root's rights, and no
    temporary directory of Ansible appears in the home.
  - An O(accounts[].files[].kind=owned) file belongs to the collection and is rewritten whole, atomically (a
    temporary file renamed over it), when its content or mode differs.
  - An O(accounts[].files[].kind=include) entry is one line a program must read (C(source-file), C(source), C(.)).
    Nothing is written when one of the files the program reads (O(accounts[].files[].reads)) holds the line
    already. Otherwise the line is added to O(accounts[].files[].path), unless O(accounts[].files[].leave_alone)
    is set or another tool owns that path; then a warning names the file and the line to add. Managed blocks
    written by version 0.1.0 of the role are removed from every file the program reads, and with
    O(accounts[].files[].link) so are the lines of the blog recipe that would move the stable link on every
    connection.
  - A file another tool owns is never edited (neither the line added nor a block or recipe line taken out;
    each is reported), and one warning names the tool when it can tell, the file and the exact line to add
    to the tool's source. Owned are a symlink or a file in a symlinked directory (stow, rcm, homeshick; the
    source is where it points); a file listed in the index of a git repository whose work tree holds it (a
    C(.git) in the home or a directory of it, yadm's C(~/.local/share/yadm/repo.git) or
    C(~/.config/yadm/repo.git), vcsh's C(~/.config/vcsh/repo.d/*.git), a bare repository at the top of the
    home that has an index, used with C(--work-tree=~)), asked with C(git ls-files --error-unmatch) as the
    account (no hooks, no pager, bounded time), or read from the index file without git, and left alone when
    the index cannot be read; a file chezmoi copies (an entry in its source directory, or a file in an
    C(exact_) directory) or dotdrop installs (a C(dst) in its C(config.yaml)).
  - A file the program reads that no tool owns may still be written (the tmux line in
    C(~/.config/tmux/tmux.conf) beside a tracked C(~/.tmux.conf)); the manager never rewrites a file it does
    not track, so the two converge.
  - An O(accounts[].files[].kind=absent) entry removes a file the collection owned before, when it is still a
    regular file of the account.
  - Everything is planned before anything is written; a problem with one account (a symlink to another user's
    directory, a file where a directory belongs) fails the task naming the path.
author:
  - happyssh.agent contributors (@happyssh)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per file that changes.
  platform:
    support: full
    platforms: posix
options:
  accounts:
    description: The accounts and their files.
    type: list
    elements: dict
    required: true
    suboptions:
      user:
        description: Account name. Its files are handled as this account.
        type: str
        required: true
      home:
        description:
          - Directory under which every path of the account lies; directories missing between it and a file are
            created. V(/) for system-wide files.
        type: path
        required: true
      files:
        description: The account's files, handled in order.
        type: list
        elements: dict
        required: true
        suboptions:
          path:
            description: Absolute path of the file.
            type: path
            required: true
          kind:
            description: What the entry is, see the description.
            type: str
            choices: [owned, include, absent]
            required: true
          content:
            description: Whole content of an V(owned) file.
            type: str
          line:
            description: The line of an V(include) entry.
            type: str
          reads:
            description: Every file the program reads, in order, for an V(include) entry (O(accounts[].files[].path) is added).
            type: list
            elements: path
          position:
            description: Where an V(include) line goes.
            type: str
            choices: [top, bottom]
            default: bottom
          leave_alone:
            description: Never add the V(include) line; warn when no file the program reads holds it.
            type: bool
            default: false
          link:
            description:
              - The stable agent link, relative to O(accounts[].home), for an V(include) entry whose files may hold other
                writers of it.
              - Every file the program reads, and O(accounts[].files[].scan), is then searched. The blog recipe
                (C(ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock), alone, after a test of the variable, or in an
                C(if) block) is taken out, as it moves the link on every connection; other C(ln -s) to the link
                and C(SSH_AUTH_SOCK) set to another fixed path are reported with file and line.
              - Files left alone (O(accounts[].files[].leave_alone), a dotfile manager's) are only reported.
            type: str
            version_added: 0.3.0
          scan:
            description: More files searched for other writers of O(accounts[].files[].link) (shell startup files).
            type: list
            elements: path
            version_added: 0.3.0
          old_blocks:
            description: Names of 0.1.0 managed blocks (C(# BEGIN happyssh.agent <name> ...)) to remove.
            type: list
            elements: str
          mode:
            description: Mode of an V(owned) file, and of an V(include) file created new. An existing dotfile keeps its mode.
            type: str
            default: "0644"
          dir_mode:
            description: Mode of directories created for the file.
            type: str
            default: "0700"
  backup:
    description: Keep a copy of a user's dotfile before changing it, beside it, named as Ansible names backups.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Hand the stable agent link to alice's tmux
  happyssh.agent.forwarding_files:
    accounts:
      - user: alice
        home: /home/alice
        files:
          - path: /home/alice/.ssh/happyssh/tmux.conf
            kind: owned
            content: |
              set-environment -g SSH_AUTH_SOCK "/home/alice/.ssh/ssh_auth_sock"
          - path: /home/alice/.config/tmux/tmux.conf
            kind: include
            line: source-file -q ~/.ssh/happyssh/tmux.conf
            reads: [/home/alice/.tmux.conf]
  register: written

- name: Show which files changed
  ansible.builtin.debug:
    msg: "{{ written.files | selectattr('action', 'ne', 'unchanged') | map(attribute='path') | list }}"
"""

RETURN = r"""
files:
  description: Every file that changed (or would change in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: The account.
      type: str
      returned: always
      sample: alice
    path:
      description: The file.
      type: str
      returned: always
      sample: /home/alice/.config/tmux/tmux.conf
    action:
      description: V(created), V(updated) or V(removed).
      type: str
      returned: always
      sample: created
    backup_file:
      description: The copy made before a dotfile was changed, V(null) when none.
      type: str
      returned: always
      sample: /home/alice/.screenrc.4242.2026-11-25@10:00:00~
diff:
  description: One before/after pair per changed file, in diff mode.
  returned: when diff mode is on
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.happyssh.agent.plugins.module_utils.account_files import (
    FilesError, as_account, plan_account)


def run_accounts(accounts, check_only, backup, run=None):
    """Plan every account first, so a problem anywhere fails before any write; then write the
    accounts that have changes, each as itself. `run` is the module's run_command (git)."""
    plans = [as_account(a['user'], plan_account, a['home'], a['files'], True, backup, run) for a in accounts]
    if not check_only:
        plans = [as_account(a['user'], plan_account, a['home'], a['files'], False, backup, run) if plan['files'] else plan
                 for a, plan in zip(accounts, plans)]
    return list(zip(accounts, plans))


def main():
    file_spec = dict(
        path=dict(type='path', required=True),
        kind=dict(type='str', required=True, choices=['owned', 'include', 'absent']),
        content=dict(type='str'),
        line=dict(type='str'),
        reads=dict(type='list', elements='path'),
        position=dict(type='str', default='bottom', choices=['top', 'bottom']),
        leave_alone=dict(type='bool', default=False),
        old_blocks=dict(type='list', elements='str'),
        link=dict(type='str'),
        scan=dict(type='list', elements='path'),
        mode=dict(type='str', default='0644'),
        dir_mode=dict(type='str', default='0700'),
    )
    module = AnsibleModule(
        argument_spec=dict(
            accounts=dict(type='list', elements='dict', required=True, options=dict(
                user=dict(type='str', required=True),
                home=dict(type='path', required=True),
                files=dict(type='list', elements='dict', required=True, options=file_spec,
                           required_if=[('kind', 'owned', ['content']), ('kind', 'include', ['line'])]),
            )),
            backup=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    try:
        done = run_accounts(module.params['accounts'], module.check_mode, module.params['backup'], module.run_command)
    except FilesError as exc:
        module.fail_json(msg=str(exc))
    files = []
    diffs = []
    for account, plan in done:
        for warning in plan['warnings']:
            module.warn('%s: %s' % (account['user'], warning))
        for item in plan['files']:
            files.append(dict(user=account['user'], path=item['path'], action=item['action'],
                              backup_file=item['backup_file']))
            diffs.append(dict(before=item['before'], after=item['after'],
                              before_header=item['path'], after_header=item['path']))
    result = dict(changed=bool(files), files=files)
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
