# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The names filter: every form people give a list of names in."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

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
    with pytest.raises(AnsibleFilterError, match='names: expected a list or a comma-separated string, got dict'):
        names({'alice': 1})


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {'names': names}
