# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rc part of happyssh.agent.forwarding put into a home the way the role puts it, for the
unit tests and benchmarks that run it without Ansible: the link keeper as shipped
(roles/forwarding/files), the role's own rc template and include line (templates/rc.j2,
vars/main.yml), with the role's defaults.

    python tests/lib/homes.py HOME [HOME...]      (for shell scripts)
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

import jinja2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(ROOT, 'roles', 'forwarding')
KEEPER = os.path.join(ROLE, 'files', 'happyssh-link')


def role_yaml(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


def include_line(part):
    """The line the role adds to a user's dotfile for a part (rc, tmux, screen, prompt)."""
    return role_yaml('vars', 'main.yml')['__forwarding_part_table'][part]['line']


def render(template, **variables):
    """A template of the role with its defaults and the given variables (Ansible's quote and
    ternary filters are the only ones the shell templates use)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, 'templates')),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters['quote'] = lambda value: shlex.quote(str(value))
    env.filters['ternary'] = lambda value, yes, no: yes if value else no
    context = dict(role_yaml('defaults', 'main.yml'))
    context.update(variables)
    return env.get_template(template).render(**context)


def install_rc(home, **variables):
    """~/.ssh/rc holding the include line, ~/.ssh/happyssh/{rc,happyssh-link}. Returns the paths."""
    own = os.path.join(home, '.ssh', 'happyssh')
    os.makedirs(own, mode=0o700, exist_ok=True)
    keeper = os.path.join(own, 'happyssh-link')
    shutil.copyfile(KEEPER, keeper)
    with open(os.path.join(own, 'rc'), 'w') as handle:
        handle.write(render('rc.j2', __forwarding_keeper=keeper, **variables))
    rc = os.path.join(home, '.ssh', 'rc')
    with open(rc, 'w') as handle:
        handle.write(include_line('rc') + '\n')
    return rc, keeper


if __name__ == '__main__':
    for home_dir in sys.argv[1:]:
        install_rc(home_dir)
