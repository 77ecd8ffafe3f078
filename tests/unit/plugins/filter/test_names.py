# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The names filter: every form people give a list of names in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.happyssh.agent.plugins.filter.names import FilterModule, names


@pytest.mark.parametrize('given, expected', [
    ('alice', ['alice']),
    ('alice,bob', ['alice', 'bob']),
    (' alice , bob ,', ['alice', 'bob']),
    (['alice', ' bob '], ['alice', 'bob']),
    (['rc', '', 'tmux'], ['rc', 'tmux']),
    ('', []),
    (None, []),
    ([], []),
])
def test_names_as_people_type_them(given, expected):
    assert names(given) == expected


def test_anything_else_fails_naming_what_it_got():
    """In a process of its own: the controller's errors are not imported beside the module tests."""
    code = ('import sys; from ansible.errors import AnsibleFilterError\n'
            'from ansible_collections.happyssh.agent.plugins.filter.names import names\n'
            'try:\n    names({"alice": 1})\nexcept AnsibleFilterError as exc:\n    print(exc)\n')
    done = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
                          capture_output=True, text=True, timeout=60, check=True)
    assert 'names: expected a list or a comma-separated string, got dict' in done.stdout, done.stderr


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {'names': names}
