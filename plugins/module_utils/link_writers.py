# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Other writers of the stable link, found in a user's rc and startup files.

The blog recipe (``ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock`` in ~/.ssh/rc, guarded by a test of
the variable, on one line or as an if block) replaces the link on every connection, after the
keeper has chosen: one ``ssh host true`` moves the link off a live login onto a socket gone a
moment later. Those lines are known and can be taken out whole. Anything else that makes the
link (another ``ln -s`` to its path) or hands tmux, screen or a shell an agent path other than
the link is reported with its line number and left as it is.

Pure functions on bytes; account_files applies the result as the account.
"""

from __future__ import annotations

import re

RECIPE = 'recipe'
OTHER = 'other'

# A test of the forwarded variable or of the link: `test "$SSH_AUTH_SOCK"`, `[ -S "$SSH_AUTH_SOCK" ]`,
# `[[ ! -S ~/.ssh/ssh_auth_sock ]]`, joined by && or ||.
_CONDITION = r'(?:!\s*)?(?:test\s+[^;&|]+?|\[\[?\s+[^;&|\]]+?\s*\]\]?)'
_GUARD = _CONDITION + r'(?:\s*(?:&&|\|\|)\s*' + _CONDITION + r')*'
_FORWARDED = r'"?\$(?:SSH_AUTH_SOCK|\{SSH_AUTH_SOCK\})"?'


def link_spellings(home, link, user=None):
    """A regular expression matching the link's path as a user's file may spell it."""
    rel = re.escape(link.strip('/'))
    heads = [r'~', r'\$HOME', r'\$\{HOME\}', re.escape(home.rstrip('/'))]
    if user:
        heads.append('~' + re.escape(user))
    return r'''["']?(?:%s)/%s["']?''' % ('|'.join(heads), rel)


class Finding(object):
    """Lines first..last (1-based, inclusive) of one file that write the link or set the agent path."""

    def __init__(self, first, last, kind, what):
        self.first = first
        self.last = last
        self.kind = kind
        self.what = what

    def where(self, path):
        """`path:N: line N` (or `path:N-M: lines N-M`), as editors and people read it."""
        if self.first == self.last:
            return '%s:%d: line %d' % (path, self.first, self.first)
        return '%s:%d-%d: lines %d-%d' % (path, self.first, self.last, self.first, self.last)

    def __repr__(self):
        return 'Finding(%d, %d, %r, %r)' % (self.first, self.last, self.kind, self.what)


def _patterns(link_re):
    option = r'(?:(?:-[A-Za-z]+|--[a-z-]+)\s+)'
    make = r'\bln\s+' + option + r'*?(?:-[A-Za-z]*s[A-Za-z]*|--symbolic)\s+' + option + r'*'
    core = make + _FORWARDED + r'\s+' + link_re + r'(?:\s+2>\s*/dev/null)?'
    return dict(
        # `ln -sf $SSH_AUTH_SOCK LINK`, alone or after a guard joined by &&.
        line=re.compile(r'^\s*(?:' + _GUARD + r'\s*&&\s*)?' + core + r'\s*;?\s*$'),
        # `if GUARD; then ln -sf $SSH_AUTH_SOCK LINK; fi` on one line.
        one_if=re.compile(r'^\s*if\s+' + _GUARD + r'\s*;\s*then\s+' + core + r'\s*;?\s*fi\s*;?\s*$'),
        if_open=re.compile(r'^\s*if\s+' + _GUARD + r'\s*(?:;\s*then)?\s*$'),
        then=re.compile(r'^\s*then\s*$'),
        body=re.compile(r'^\s*' + core + r'\s*;?\s*$'),
        end=re.compile(r'^\s*fi\s*;?\s*$'),
        # Any other symbolic link made at the link's path.
        makes_link=re.compile(make + r'.*?(?:^|\s)' + link_re + r'(?:\s|;|$)'),
        # An agent path handed on: sh/zsh/bash, csh, fish, tmux, screen.
        assigns=re.compile(
            r'''(?:^|[\s;&|(])(?:export\s+|setenv\s+(?:-g\s+)?|set-environment\s+(?:-g\s+)?|set\s+-gx\s+)?'''
            r'''SSH_AUTH_SOCK(?:=|\s+)(?P<value>"[^"]*"|'[^']*'|[^\s;]+)'''),
    )


def _assigned_elsewhere(value, link_re):
    """True when value is a fixed path other than the link ($SSH_AUTH_SOCK itself, command output
    and variables are the user's own business)."""
    bare = value.strip('"\'')
    if not bare or re.match(r'^' + link_re + r'$', value) or re.match(r'^' + link_re + r'$', bare):
        return False
    if '$(' in bare or '`' in bare or bare.startswith('$SSH_AUTH_SOCK') or bare.startswith('${SSH_AUTH_SOCK'):
        return False
    return bool(re.match(r'^(?:~|\$HOME|\$\{HOME\}|/)', bare))


def find(data, link_re):
    """Every writer of the link in data (bytes), in order. Comments are skipped."""
    pat = _patterns(link_re)
    lines = data.decode('utf-8', 'replace').split('\n')
    found = []
    depth = 0
    index = 0
    while index < len(lines):
        text = lines[index]
        stripped = text.strip()
        if not stripped or stripped.startswith('#'):
            index += 1
            continue
        block = _if_block(lines, index, pat) if depth == 0 else None
        if block is not None:
            found.append(Finding(_comments_above(lines, index) + 1, block + 1, RECIPE,
                                 'the blog recipe (if ... ln -sf $SSH_AUTH_SOCK ... fi)'))
            index = block + 1
            continue
        depth += _nesting(stripped)
        if depth == 0 and (pat['line'].match(text) or pat['one_if'].match(text)):
            found.append(Finding(_comments_above(lines, index) + 1, index + 1, RECIPE, 'the blog recipe (ln -sf $SSH_AUTH_SOCK to the link)'))
        elif pat['makes_link'].search(text):
            found.append(Finding(index + 1, index + 1, OTHER, 'makes the link itself: %s' % stripped))
        else:
            match = pat['assigns'].search(text)
            if match and _assigned_elsewhere(match.group('value'), link_re):
                found.append(Finding(index + 1, index + 1, OTHER,
                                     'sets SSH_AUTH_SOCK to %s, not to the link: %s' % (match.group('value'), stripped)))
        index += 1
    return found


_OPENS = re.compile(r'(?:^|[;&|\s])(?:if|case|do|\{)(?=\s|$)')
_CLOSES = re.compile(r'(?:^|[;&|\s])(?:fi|esac|done|\})(?=\s|;|$)')


def _nesting(line):
    """How much deeper the shell is after line: a recipe is only taken out at the top level, where
    removing its lines cannot leave an empty then, do or else. Quoted text does not count; files
    of other shells (csh's endif, fish's end) never close, so nothing in them is taken out."""
    bare = re.sub(r"'[^']*'|\"[^\"]*\"", '""', line.split(' #')[0])
    return len(_OPENS.findall(bare)) - len(_CLOSES.findall(bare))


_ABOUT_THE_AGENT = re.compile(r'ssh_auth_sock|agent|tmux|screen|socket', re.IGNORECASE)


def _comments_above(lines, start):
    """Index of the first of the comment lines right above start that speak of the recipe (they
    go with it), else start. A #! line always stays."""
    first = start
    while first > 0:
        above = lines[first - 1].strip()
        if not above.startswith('#') or above.startswith('#!') or not _ABOUT_THE_AGENT.search(above):
            break
        first -= 1
    return first


def _if_block(lines, start, pat):
    """Index of the `fi` closing a recipe if-block opened at start (its body only the ln), or None."""
    if not pat['if_open'].match(lines[start]):
        return None
    has_then = lines[start].rstrip().endswith('then')
    seen_body = False
    for index in range(start + 1, min(len(lines), start + 8)):
        text = lines[index]
        stripped = text.strip()
        if not stripped or stripped.startswith('#'):
            continue
        if not has_then:
            if not pat['then'].match(text):
                return None
            has_then = True
        elif not seen_body and pat['body'].match(text):
            seen_body = True
        elif seen_body and pat['end'].match(text):
            return index
        else:
            return None
    return None


def without(data, findings):
    """data without the lines of the recipe findings (other findings stay)."""
    drop = set()
    for finding in findings:
        if finding.kind == RECIPE:
            drop.update(range(finding.first - 1, finding.last))
    if not drop:
        return data
    lines = data.split(b'\n')
    return b'\n'.join(line for index, line in enumerate(lines) if index not in drop)
