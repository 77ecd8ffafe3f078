# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: names
short_description: Names as people type them, as a list
version_added: 0.3.0
description:
  - Turns a list of names, one name, or names separated by commas (as given with
    C(-e forwarding_users=alice,bob)) into a list of names, each stripped of surrounding white space,
    empty ones left out.
  - The role C(happyssh.agent.forwarding) reads C(forwarding_leave_alone) with it, the playbook
    C(happyssh.agent.repair) reads C(forwarding_users) with it.
positional: _input
options:
  _input:
    description: A list of names, or a string of names separated by commas. An empty value gives an empty list.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: The accounts to repair, however they were given
  ansible.builtin.debug:
    msg: "{{ forwarding_users | default([], true) | happyssh.agent.names }}"
  # 'alice, bob' -> ['alice', 'bob']; ['alice'] -> ['alice']; '' -> []
"""

RETURN = r"""
_value:
  description: The names, in their order.
  type: list
  elements: str
"""


def names(value):
    """A list of names from a list, one name, or names separated by commas."""
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(',')
    elif not isinstance(value, (list, tuple)):
        # Imported here: the controller's errors have no place in a module's process, where the
        # unit tests also run (importing them there changes how modules report warnings).
        from ansible.errors import AnsibleFilterError  # pylint: disable=import-outside-toplevel
        raise AnsibleFilterError('names: expected a list or a comma-separated string, got %s' % type(value).__name__)
    return [name for name in (str(item).strip() for item in value) if name]


class FilterModule(object):

    def filters(self):
        return {'names': names}
