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
  - The link keeper of this collection (run by C(~/.ssh/rc)) fixes the link whenever a new SSH connection arrives. This module does the same
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
    stale sockets costs one refused connection each. The default order is the one the link keeper follows when a
    link's owner is gone, so the rc and this module agree.
  - A candidate whose agent is reached through O(path) itself is never chosen, because a hop back into this host
    (C(ssh -A) from a pane whose E(SSH_AUTH_SOCK) is the link) would make a loop. Such a session comes from this
    host (its E(SSH_CONNECTION) names a loopback or this host's own address); its ssh client is found by the TCP
    connection's ports and its E(SSH_AUTH_SOCK) read, through up to four hops. A current link target found to
    loop counts as dead (reason V(leads back to the link)).
  - The link is replaced atomically (a new symlink under a temporary name, renamed over the old one), so it never
    goes missing. When no live agent is found, a dead link is left in place.
  - Each host keeps its own link, state file and lock in a directory of the user on that host, O(host_dir). The link
    in the home, O(path), is a symlink to C(<host_dir>/agent), the same bytes on every host, so hosts that share a
    home directory (NFS) never replace each other's link. A link in the home that points at a socket directly (the
    layout of 0.2.0 and of the blog recipe) is migrated, keeping its target while it is alive.
  - With OpenSSH 10.1 and newer every host puts its sockets in the shared C(~/.ssh/agent); a socket whose name
    carries another host's hostname hash (C(s.<hash>.sshd.<pid>.<random>)) is never chosen and its pid never read.
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
      - V(absent) removes O(path), but only when it is a symlink, together with this host's link and state file.
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
      - Which live candidate to choose when there are several.
      - V(interactive) takes a socket whose connection has a terminal first (a person works in it), then the
        connection that has lived longest (an editor or a tunnel), each read from the session's sshd in
        C(/proc); sockets without a running sshd come last, newest first. This is the rule of the link keeper.
      - V(newest) and V(oldest) go by the modification time of the socket only.
    type: str
    choices: [interactive, newest, oldest]
    default: interactive
    version_added: 0.2.0
  timeout:
    description:
      - Seconds to wait for one socket to answer the liveness probe.
      - The default is the bound of the shell keeper (role variable C(forwarding_probe_timeout)), so the module
        and every login agree on which agents are alive.
    type: float
    default: 2.0
  host_dir:
    description:
      - This host's directory of the user, holding the host's link C(agent), its state file C(agent.owner) and
        lock C(agent.lock). Made with mode 0700 when missing (not in check mode).
      - Must be a real directory owned by the user that group and others cannot write to; the module fails
        otherwise, naming it.
      - When not set, C(/tmp/happyssh-<user>), the keeper's default.
    type: path
    version_added: 0.3.0
  fail_when_no_agent:
    description:
      - Fail when no live agent can be found.
      - When V(false), the module reports RV(status=no_live_agent) and leaves a dead link in place.
    type: bool
    default: false
notes:
  - The module takes the same lock as the shell keeper, a symlink C(<host_dir>/agent.lock) whose target is the pid of
    the holder.
    A lock left behind by a process that no longer exists is removed. A lock held by a live process is waited for
    about two seconds; after that the module goes ahead without it and warns.
  - After a repair the state file C(<host_dir>/agent.owner) is rewritten with the line C(manual <target>). When that
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

- name: Repair the agent link of alice, taking the most recent connection
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
    msg: "{{ agent_link.path }} -> {{ agent_link.target }} ({{ agent_link.status }}, {{ agent_link.key_count }} keys)"

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
  description: Path of the symlink in the home.
  returned: always
  type: str
  sample: /home/alice/.ssh/ssh_auth_sock
host_link:
  description: This host's link, where O(path) leads.
  returned: always
  type: str
  sample: /tmp/happyssh-alice/agent
  version_added: 0.3.0
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
key_count:
  description:
    - Number of keys the agent holds, when the link leads to a live agent; otherwise V(null).
    - Called C(keys) before 0.2.0, a name that cannot be read with dot notation.
  returned: always
  version_added: 0.2.0
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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.happyssh.agent.plugins.module_utils.agent_link import (
    DEFAULT_SEARCH, MESSAGE_LIST_MAX, AgentLinkError, acquire_lock, check_host_dir, check_parent,
    choose_live, default_host_dir, default_link_path, describe_candidates, find_candidates,
    host_link_path, link_problem, lock_holder, read_link, record_state, release_lock, remove_if_present,
    replace_link, require_link_or_missing, user_home)


# ---------------------------------------------------------------- states

def base_result(path, host_link, previous):
    return dict(path=path, host_link=host_link, previous_target=previous, target=previous, alive=False,
                key_count=None, status=None, reason=None, candidates=[], changed=False)


def ensure_present(path, patterns, prefer='interactive', timeout=2.0, check_mode=False, warn=None, host_dir=None):
    """Check this host's link and repair it from the best live candidate, and make the link in the
    home lead to it; returns the module result."""
    uid = os.geteuid()
    check_parent(path, uid)
    kind, home_target = read_link(path)
    require_link_or_missing(path, kind)
    host_dir = host_dir or default_host_dir()
    host_link = host_link_path(host_dir)
    exists = check_host_dir(host_dir, uid, create=not check_mode)
    dummy, previous = read_link(host_link) if exists else ('missing', None)
    if previous is None and home_target not in (None, host_link):
        # Before this host has a link of its own, the home's link names the owner (0.2.0, the recipe).
        previous = os.path.normpath(os.path.join(os.path.dirname(path), home_target))
    result = base_result(path, host_link, previous)
    anchored = home_target == host_link
    probed = {}
    if previous is None:
        result['reason'] = 'missing'
    else:
        reason, probe = link_problem(host_link, previous, uid, timeout, probed, path)
        if reason is None:
            result.update(status='ok', alive=True, key_count=probe.keys)
            if home_target != host_link or not os.path.islink(host_link):
                result['changed'] = True
                if not check_mode:
                    install_link(path, host_link, previous, None, uid, timeout, warn)
            return result
        result['reason'] = reason

    candidates = find_candidates(patterns, path, uid, user_home())
    chosen, probe = choose_live(candidates, prefer, timeout, probed, path)
    result['candidates'] = describe_candidates(candidates, probed)
    if chosen is None:
        result['status'] = 'no_live_agent'
        return result

    result.update(status='repaired', changed=True, target=chosen, alive=True, key_count=probe.keys)
    if not check_mode:
        fixed_meanwhile = install_link(path, host_link, chosen, previous, uid, timeout, warn)
        if fixed_meanwhile is not None:
            result.update(status='ok', target=fixed_meanwhile[0], key_count=fixed_meanwhile[1].keys)
            result['changed'] = not anchored
    return result


def anchor(path, host_link):
    """Point the link in the home at this host's link (the same bytes from every host)."""
    kind, current = read_link(path)
    require_link_or_missing(path, kind)
    if current != host_link:
        try:
            replace_link(path, host_link)
        except OSError as exc:
            raise AgentLinkError('cannot point %s at %s: %s' % (path, host_link, exc))


def install_link(path, host_link, target, seen, uid, timeout, warn):
    """Replace this host's link under the keeper's lock (seen: the target judged dead; None to
    install target as it is) and anchor the home's link; returns (target, probe) when someone else
    repaired it meanwhile."""
    lock_path = host_link + '.lock'
    locked = acquire_lock(lock_path)
    if not locked and warn is not None:
        warn('%s is held by pid %s; repaired %s without the lock' % (lock_path, lock_holder(lock_path), host_link))
    try:
        kind, current = read_link(host_link)
        require_link_or_missing(host_link, kind)
        if seen is not None and current is not None and current != seen:
            reason, probe = link_problem(host_link, current, uid, timeout, {}, path)
            if reason is None:
                anchor(path, host_link)
                return current, probe
        if current != target:
            replace_link(host_link, target)
            record_state(host_link, target, warn)
        anchor(path, host_link)
    except OSError as exc:
        raise AgentLinkError('cannot repair %s: %s' % (host_link, exc))
    finally:
        if locked:
            release_lock(lock_path)
    return None


def ensure_absent(path, check_mode=False, host_dir=None):
    """Remove the link in the home (only a symlink), this host's link and its state file, and the
    state file 0.2.0 kept beside the home's link."""
    host_link = host_link_path(host_dir or default_host_dir())
    result = base_result(path, host_link, None)
    result['target'] = None
    if not os.path.isdir(os.path.dirname(path)):
        result['status'] = 'absent'
        return result
    check_parent(path, os.geteuid())
    kind, previous = read_link(path)
    require_link_or_missing(path, kind)
    host_kind, host_target = read_link(host_link)
    require_link_or_missing(host_link, host_kind)
    leftovers = [p for p in (host_link + '.owner', path + '.owner') if os.path.lexists(p)]
    result.update(previous_target=host_target if host_target is not None else previous,
                  status='removed' if previous is not None or host_target is not None else 'absent')
    result['changed'] = previous is not None or host_target is not None or bool(leftovers)
    if check_mode or not result['changed']:
        return result
    lock_path = host_link + '.lock'
    locked = os.path.isdir(os.path.dirname(host_link)) and acquire_lock(lock_path)
    try:
        for name in [path, host_link] + leftovers:
            remove_if_present(name)
    except OSError as exc:
        raise AgentLinkError('cannot remove %s: %s' % (path, exc))
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
            prefer=dict(type='str', default='interactive', choices=['interactive', 'newest', 'oldest']),
            timeout=dict(type='float', default=2.0),
            host_dir=dict(type='path'),
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
            result = ensure_absent(path, module.check_mode, params['host_dir'])
        else:
            result = ensure_present(path, params['search'], params['prefer'], params['timeout'],
                                    module.check_mode, module.warn, params['host_dir'])
    except AgentLinkError as exc:
        module.fail_json(msg=str(exc), path=path)

    if module._diff:
        result['diff'] = link_diff(path, result['previous_target'], result['target'])
    if result['status'] == 'no_live_agent' and params['fail_when_no_agent']:
        module.fail_json(msg=no_agent_message(path, result), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
