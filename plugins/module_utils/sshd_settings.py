# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The sshd settings that decide whether the role's story can work for an account, with where each comes from.

Two readings, one result per account ({setting: {value, file, line}}):
- privileged: ``sshd -T -C user=...,host=...,addr=...`` gives the effective values (Match blocks included);
  the config files are parsed as well, only to name the file and line a value comes from;
- unprivileged (``sshd -T`` needs the host keys): the readable config files are parsed and evaluated the way
  sshd does (sshd_config(5)): ``Include`` with globs relative to /etc/ssh, the first value wins, a value in a
  matching ``Match`` block wins over the global one, Match criteria User, Group, Host, Address, LocalAddress,
  LocalPort and All with comma lists, wildcards and ``!`` negation. That reading is a best effort.

Both evaluate a login from ``CONNECTION_ADDR`` to this host under its own name: a ``Match Address``/``Host``
block for other networks is not seen.
"""

from __future__ import annotations

import fnmatch
import glob
import grp
import ipaddress
import os
import pwd
import re
import shlex

SSHD_DIR = '/etc/ssh'
SSHD_CONFIG = '/etc/ssh/sshd_config'
CONNECTION_ADDR = '127.0.0.1'
# sshd_config(5) spelling, keyed by the lower-case name sshd -T prints.
SETTINGS = {
    'permituserrc': 'PermitUserRC',
    'allowagentforwarding': 'AllowAgentForwarding',
    'x11forwarding': 'X11Forwarding',
    'disableforwarding': 'DisableForwarding',
    'forcecommand': 'ForceCommand',
}
# OpenSSH's compiled-in defaults (Debian's sshd_config sets X11Forwarding yes in the file).
DEFAULTS = {'permituserrc': 'yes', 'allowagentforwarding': 'yes', 'x11forwarding': 'no',
            'disableforwarding': 'no', 'forcecommand': 'none'}
MAX_INCLUDE_DEPTH = 16
# Variables of devsec.hardening's ssh_hardening role that write these settings.
DEVSEC_VARIABLES = {'allowagentforwarding': 'ssh_allow_agent_forwarding: true',
                    'x11forwarding': 'ssh_x11_forwarding: true'}


# Reading the files ---------------------------------------------------------------------------------------

def split_line(text):
    """(keyword, [arguments]) of one config line, None for blank lines and comments."""
    text = text.strip()
    if not text or text.startswith('#'):
        return None
    match = re.match(r'([^\s=]+)\s*(?:=\s*|\s+|$)(.*)$', text)
    if match is None:
        return None
    try:
        args = shlex.split(match.group(2), comments=True)
    except ValueError:
        args = match.group(2).split()
    return match.group(1).lower(), args


def include_paths(pattern):
    """The files one Include argument names, sorted as glob(3) returns them; relative ones are under /etc/ssh."""
    if not os.path.isabs(pattern):
        pattern = os.path.join(SSHD_DIR, pattern)
    if not glob.has_magic(pattern):
        return [pattern]
    return sorted(glob.glob(pattern))


def unreadable_dir(pattern):
    """The directory of a glob that sshd could list but we cannot (a 0700 sshd_config.d), else None."""
    if not os.path.isabs(pattern):
        pattern = os.path.join(SSHD_DIR, pattern)
    directory = os.path.dirname(pattern)
    if glob.has_magic(pattern) and os.path.isdir(directory) and not os.access(directory, os.R_OK | os.X_OK):
        return directory
    return None


class Config:
    """The lines of sshd_config and its Include'd files in sshd's order, each with its file, line and Match."""

    def __init__(self):
        self.entries = []      # dicts: keyword, args, file, line, match (None: global, else the Match line)
        self.unreadable = []   # dicts: path, error
        self.headers = {}      # file -> its text, for the hardening hints

    def load(self, path, match=None, depth=0):
        try:
            with open(path, encoding='utf-8', errors='replace') as handle:
                text = handle.read()
        except OSError as exc:
            self.unreadable.append(dict(path=path, error=exc.strerror))
            return
        self.headers[path] = text
        self.load_text(path, text, match, depth)

    def load_text(self, path, text, match=None, depth=0):
        # A Match inside an included file ends with that file (sshd restores the including file's state);
        # it applies only where the Include itself does.
        outer = match
        for number, raw in enumerate(text.splitlines(), 1):
            parsed = split_line(raw)
            if parsed is None:
                continue
            keyword, args = parsed
            if keyword == 'match':
                match = dict(criteria=args, file=path, line=number, outer=outer)
            elif keyword == 'include':
                self.include(args, match, depth)
            else:
                self.entries.append(dict(keyword=keyword, args=args, file=path, line=number, match=match))

    def include(self, patterns, match, depth):
        if depth >= MAX_INCLUDE_DEPTH:
            return
        for pattern in patterns:
            directory = unreadable_dir(pattern)
            if directory:
                self.unreadable.append(dict(path=directory, error='Permission denied'))
            for path in include_paths(pattern):
                self.load(path, match, depth + 1)


def read_config(path=None):
    config = Config()
    config.load(path or SSHD_CONFIG)
    return config


# Matching a connection -----------------------------------------------------------------------------------

def pattern_list(value, patterns, fold_case=False):
    """OpenSSH's match_pattern_list: 1 when a pattern matches, -1 when a negated one does, else 0."""
    if fold_case:
        value = value.lower()
    found = 0
    for pattern in patterns.split(','):
        negated = pattern.startswith('!')
        pattern = pattern[1:] if negated else pattern
        if fold_case:
            pattern = pattern.lower()
        if fnmatch.fnmatchcase(value, pattern):
            if negated:
                return -1
            found = 1
    return found


def address_in(address, pattern):
    """One Address pattern: a CIDR network or a wildcard pattern."""
    if '/' in pattern:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatch.fnmatchcase(address, pattern)


def address_list(address, patterns):
    """OpenSSH's addr_match_list, in the same three outcomes as pattern_list."""
    found = 0
    for pattern in patterns.split(','):
        negated = pattern.startswith('!')
        if address_in(address, pattern[1:] if negated else pattern):
            if negated:
                return -1
            found = 1
    return found


def group_list(groups, patterns):
    """Match Group: a negated hit on any of the account's groups excludes it."""
    results = [pattern_list(name, patterns) for name in groups]
    return -1 not in results and 1 in results


def criterion_matches(name, value, connection):
    """One criterion of a Match line for the connection (user, groups, host, addr, laddr, lport)."""
    if name == 'user':
        return connection.get('user') is not None and pattern_list(connection['user'], value) == 1
    if name == 'group':
        return group_list(connection.get('groups', []), value)
    if name == 'host':
        return pattern_list(connection['host'], value, fold_case=True) == 1
    if name == 'address':
        return address_list(connection['addr'], value) == 1
    if name == 'localaddress':
        return address_list(connection['laddr'], value) == 1
    if name == 'localport':
        return pattern_list(str(connection['lport']), value) == 1
    # RDomain and criteria of newer OpenSSH releases: not known here, taken as not matching.
    return False


def criteria_pairs(args):
    """[(criterion, value)] of a Match line; "All" alone is ('all', None)."""
    words = []
    for arg in args:
        words.extend(arg.split('=', 1) if '=' in arg else [arg])
    pairs, index = [], 0
    while index < len(words):
        name = words[index].lower()
        if name == 'all':
            pairs.append(('all', None))
            index += 1
        else:
            pairs.append((name, words[index + 1] if index + 1 < len(words) else ''))
            index += 2
    return pairs


def match_applies(match, connection):
    """Whether a Match block (and the one its Include sits in) applies to the connection; all criteria must."""
    if match is None:
        return True
    if connection.get('user') is None:
        return False
    if not all(name == 'all' or criterion_matches(name, value, connection)
               for name, value in criteria_pairs(match['criteria'])):
        return False
    return match_applies(match['outer'], connection)


# Evaluating ----------------------------------------------------------------------------------------------

def first_value(config, keyword, connection, in_match):
    """The first entry of keyword among the global lines (in_match False) or the matching Match lines."""
    for entry in config.entries:
        if entry['keyword'] != keyword or (entry['match'] is not None) != in_match:
            continue
        if not in_match or match_applies(entry['match'], connection):
            return entry
    return None


def effective(config, keyword, connection):
    """sshd's rule: a value from a matching Match block wins over the global one; the first value wins."""
    entry = first_value(config, keyword, connection, True) or first_value(config, keyword, connection, False)
    if entry is None:
        return dict(value=DEFAULTS[keyword], file=None, line=None)
    value = ' '.join(entry['args']) if keyword == 'forcecommand' else (entry['args'] or [''])[0].lower()
    return dict(value=value, file=entry['file'], line=entry['line'])


def evaluate(config, connection):
    """{keyword: {value, file, line}} of every setting in SETTINGS for one connection."""
    return dict((keyword, effective(config, keyword, connection)) for keyword in SETTINGS)


def account_groups(name):
    """The names of the account's groups (primary and supplementary), as sshd's Match Group sees them."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return []
    names = set(group.gr_name for group in grp.getgrall() if name in group.gr_mem)
    try:
        names.add(grp.getgrgid(entry.pw_gid).gr_name)
    except KeyError:
        pass
    return sorted(names)


def local_port(config):
    """The first Port sshd listens on (a login to it is what is evaluated)."""
    entry = first_value(config, 'port', {}, False)
    return entry['args'][0] if entry and entry['args'] else '22'


def connection_for(user, config, host):
    return dict(user=user, groups=account_groups(user) if user else [], host=host, addr=CONNECTION_ADDR,
                laddr=CONNECTION_ADDR, lport=local_port(config))


# sshd -T -------------------------------------------------------------------------------------------------

def connection_spec(user, host):
    """The -C argument of sshd -T for a login of user from CONNECTION_ADDR to host."""
    return 'user=%s,host=%s,addr=%s' % (user, host, CONNECTION_ADDR)


def parse_sshd_t(text):
    """{keyword: value} of the settings in SETTINGS from sshd -T output (lower-case names)."""
    values = {}
    for line in text.splitlines():
        name, dummy, value = line.strip().partition(' ')
        if name.lower() in SETTINGS and name.lower() not in values:
            values[name.lower()] = value.strip()
    return values


def with_origins(values, parsed):
    """sshd -T's values, each with the file and line of the parsed reading when that reading agrees."""
    result = {}
    for keyword in SETTINGS:
        value = values.get(keyword, DEFAULTS[keyword])
        seen = parsed.get(keyword) or {}
        agree = seen.get('value', '').lower() == value.lower()
        result[keyword] = dict(value=value, file=seen.get('file') if agree else None,
                               line=seen.get('line') if agree else None)
    return result


# What defeats the setup ----------------------------------------------------------------------------------

def hardening_hint(config, path, keyword):
    """Who wrote the file, when its text tells: devsec.hardening's ssh_hardening or another Ansible role."""
    text = config.headers.get(path) or ''
    role = re.search(r'^#\s*Generated by Ansible role\s+(\S+)', text, re.M)
    if role and ('ssh_hardening' in role.group(1) or 'devsec' in role.group(1)):
        variable = DEVSEC_VARIABLES.get(keyword)
        return "set by the host's hardening role %s?%s" % (
            role.group(1), ' (its variable %s)' % variable if variable else '')
    if role:
        return 'written by Ansible role %s: change it there' % role.group(1)
    if re.search(r'ansible managed|managed by ansible', text, re.I) or 'ssh_hardening' in text:
        return 'the file is managed by Ansible: change it where it is generated'
    return None


def problem(config, settings, keyword, part, effect, fix):
    seen = settings[keyword]
    return dict(setting=SETTINGS[keyword], value=seen['value'], file=seen['file'], line=seen['line'],
                part=part, effect=effect, fix=fix,
                hint=hardening_hint(config, seen['file'], keyword) if seen['file'] else None)


def problems(config, settings):
    """What defeats the role for one account, each naming the setting, its origin and the fix.
    part: agent (always matters), rc (the user's ~/.ssh/rc), x11 (forwarding_x11)."""
    found = []
    if settings['disableforwarding']['value'] == 'yes':
        found.append(problem(config, settings, 'disableforwarding', 'agent',
                             'no agent (nor X11) is forwarded', 'DisableForwarding no'))
    elif settings['allowagentforwarding']['value'] == 'no':
        found.append(problem(config, settings, 'allowagentforwarding', 'agent',
                             'there is no forwarded agent to keep', 'AllowAgentForwarding yes'))
    if settings['permituserrc']['value'] == 'no':
        found.append(problem(config, settings, 'permituserrc', 'rc', 'sshd never runs ~/.ssh/rc',
                             'PermitUserRC yes'))
    if settings['forcecommand']['value'] not in ('none', ''):
        found.append(problem(config, settings, 'forcecommand', 'rc',
                             'sshd skips ~/.ssh/rc under a ForceCommand of sshd_config (it still runs /etc/ssh/sshrc)',
                             'no ForceCommand for the account, or forwarding_scope: system'))
    if settings['x11forwarding']['value'] == 'no' and settings['disableforwarding']['value'] != 'yes':
        found.append(problem(config, settings, 'x11forwarding', 'x11', 'forwarding_x11 has nothing to pass on',
                             'X11Forwarding yes'))
    return found


def message(item, users, best_effort):
    """One line for a problem shared by users: setting, origin, hint, effect, fix, accounts."""
    where = '%s:%s' % (item['file'], item['line']) if item['file'] else "sshd's built-in default"
    if item['hint']:
        where += ', ' + item['hint']
    text = '%s %s (%s): %s; set %s' % (item['setting'], item['value'], where, item['effect'], item['fix'])
    if users:
        text += ' for ' + ', '.join(users)
    if best_effort:
        text += ' (best-effort reading of the config files, without root)'
    return text


def grouped(per_account, best_effort):
    """The problems of all accounts, one entry per distinct (setting, value, origin), naming its accounts."""
    groups = []
    for user, items in per_account:
        for item in items:
            key = (item['part'], item['setting'], item['value'], item['file'], item['line'])
            same = [group for group in groups if group['key'] == key]
            if same:
                same[0]['users'].append(user)
            else:
                groups.append(dict(item, key=key, users=[user] if user else []))
    for group in groups:
        del group['key']
        group['message'] = message(group, group['users'], best_effort)
    return groups
