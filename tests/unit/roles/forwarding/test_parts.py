# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The role's table of parts (roles/forwarding/vars/main.yml, __forwarding_part_table): every part
has what the table promises around it (template, switch, argument spec, entry point, README lines),
and a part added to the table, a template, defaults/main.yml and the argument specs alone is
set up, looked at and left alone like the others. The role's derived variables are rendered by
ansible-playbook on localhost against a made-up look at a host (forwarding_info's result)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

from homes import ROOT  # pylint: disable=import-error
ROLE = os.path.join(ROOT, 'roles', 'forwarding')

# A made-up look at a host: tmux 3.3 and screen installed, a bash and a zsh account.
HOST = dict(
    user='root', escalate=False, missing_users=[], problems=[], sshd_problems=[], sshd_reading=dict(note=None),
    homes_with_rc=[], tmux=dict(version='3.3', update_environment=['DISPLAY']), screen=True,
    accounts=[dict(name='alice', home='/home/alice', shell='bash', login_shell='/bin/bash', can_login=True),
              dict(name='zoe', home='/home/zoe', shell='zsh', login_shell='/bin/zsh', can_login=True)],
)

# What the role derives, rendered by a task file dropped into a copy of the role: the argument
# specs of main validate the variables first, as they do before the role runs; then the role's
# own task that works out what applies on the host (taken from tasks/main.yml), and each
# account's files as the render task makes them.
DERIVE = """---
- name: Validate the variables as the main entry point does
  ansible.builtin.validate_argument_spec:
    argument_spec: "{{ (lookup('ansible.builtin.file', role_path ~ '/meta/argument_specs.yml') | from_yaml).argument_specs.main.options }}"
%s
- name: Render each account's files as tasks/main.yml does
  ansible.builtin.set_fact:
    derived_files: "{{ __forwarding_user_files }}"
  loop: "{{ __forwarding_decided.seen.accounts }}"
  loop_control:
    loop_var: __forwarding_account
  register: derived
- name: Write what was derived
  ansible.builtin.copy:
    dest: "{{ derived_out }}"
    mode: "0600"
    content: "{{ {'wanted': __forwarding_wanted, 'parts': __forwarding_parts, 'look': __forwarding_look_paths,
                  'notes': __forwarding_notes, 'missing': __forwarding_missing_programs,
                  'files': dict(__forwarding_decided.seen.accounts | map(attribute='name')
                                | zip(derived.results | map(attribute='ansible_facts.derived_files')))} | to_json }}"
"""

PLAY = """---
- name: Derive the role's variables
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Include the copy of the role
      ansible.builtin.include_role:
        name: forwarding
        tasks_from: derive
"""


def load(*parts):
    with open(os.path.join(*parts)) as handle:
        return yaml.safe_load(handle)


def dump(data, *parts):
    with open(os.path.join(*parts), 'w') as handle:
        yaml.safe_dump(data, handle, sort_keys=False, width=1000)


def table(role=ROLE):
    return load(role, 'vars', 'main.yml')['__forwarding_part_table']


def playbook_command():
    found = shutil.which('ansible-playbook') or os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    if not os.path.exists(found):
        pytest.skip('ansible-playbook is not installed')
    return found


def decision_task():
    """The task of tasks/main.yml that works out what applies on the host, as YAML."""
    tasks = [task for task in load(ROLE, 'tasks', 'main.yml')
             if '__forwarding_decided' in (task.get('ansible.builtin.set_fact') or {})]
    assert len(tasks) == 1
    return yaml.safe_dump(tasks, sort_keys=False, width=1000).rstrip('\n')


@pytest.fixture
def role_copy():
    """A copy of the role in roles/forwarding of a scratch directory, with the derive task file."""
    top = tempfile.mkdtemp(prefix='happyssh-parts-')
    try:
        role = os.path.join(top, 'roles', 'forwarding')
        shutil.copytree(ROLE, role)
        with open(os.path.join(role, 'tasks', 'derive.yml'), 'w') as handle:
            handle.write(DERIVE % decision_task())
        with open(os.path.join(top, 'play.yml'), 'w') as handle:
            handle.write(PLAY)
        yield role
    finally:
        shutil.rmtree(top, ignore_errors=True)


def derive(role, **variables):
    """The role's derived variables for HOST with these extra variables; (returncode, result or output)."""
    top = os.path.dirname(os.path.dirname(role))
    out = os.path.join(top, 'derived.json')
    extra = dict(variables, __forwarding_host=HOST, __forwarding_host_again=dict(skipped=True), derived_out=out,
                 ansible_python_interpreter=sys.executable)
    with open(os.path.join(top, 'extra.json'), 'w') as handle:
        json.dump(extra, handle)
    env = dict(os.environ, ANSIBLE_ROLES_PATH=os.path.join(top, 'roles'), ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_CONFIG', None)
    proc = subprocess.run([playbook_command(), '-i', 'localhost,', 'play.yml', '-e', '@extra.json'], cwd=top, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    if proc.returncode != 0:
        return proc.returncode, proc.stdout
    with open(out) as handle:
        return 0, json.load(handle)


def section(text, title):
    """A README section: from its heading to the next heading of the same level."""
    level = title.split(' ')[0]
    start = text.index(title + '\n')
    end = text.find('\n' + level + ' ', start + len(title))
    return text[start:] if end < 0 else text[start:end]


def readme(*where):
    with open(os.path.join(*(where or (ROOT,)) + ('README.md',))) as handle:
        return handle.read()


def variables_row(text, name):
    rows = [line for line in section(text, '### Variables').splitlines() if line.startswith('| `%s` |' % name)]
    assert len(rows) == 1, 'README "Variables" has no row for %s' % name
    return rows[0]


PARTS = sorted(table())


def test_the_table_has_the_parts_the_role_documents():
    assert list(table()) == ['rc', 'tmux', 'screen', 'prompt']


@pytest.mark.parametrize('name', PARTS)
def test_each_part_has_its_template_and_shipped_files(name):
    part = table()[name]
    assert os.path.isfile(os.path.join(ROLE, 'templates', part['template']))
    for shipped in part['beside_keeper']:
        assert os.path.isfile(os.path.join(ROLE, 'files', shipped))


@pytest.mark.parametrize('name', PARTS)
def test_each_part_has_its_switch_default_and_spec(name):
    switch = table()[name]['switch']
    defaults = load(ROLE, 'defaults', 'main.yml')
    options = load(ROLE, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    assert switch in defaults, '%s: defaults/main.yml has no %s' % (name, switch)
    assert options[switch]['type'] == 'bool'
    assert options[switch]['default'] == defaults[switch]


def test_leave_alone_takes_exactly_the_parts():
    options = load(ROLE, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    assert options['forwarding_leave_alone']['choices'] == list(table())


@pytest.mark.parametrize('name', PARTS)
def test_each_part_has_its_entry_point_naming_itself_only(name):
    specs = load(ROLE, 'meta', 'argument_specs.yml')['argument_specs']
    tasks = load(ROLE, 'tasks', name + '.yml')
    assert specs[name]['options'] == specs['main']['options']
    assert len(tasks) == 1 and tasks[0]['ansible.builtin.include_tasks'] == 'main.yml'
    assert tasks[0]['vars'] == {'__forwarding_only': name}


@pytest.mark.parametrize('name', PARTS)
def test_each_part_has_its_readme_lines(name):
    part = table()[name]
    text = readme()
    files = section(text, '## Files: what the role writes where')
    assert '| `~/.ssh/happyssh/%s` | collection |' % part['owned'] in files
    for dotfile in part['dotfile']:
        assert '`~/%s`' % dotfile['path'] in files, '%s: README "Files" does not name ~/%s' % (name, dotfile['path'])
    assert '\n%s\n' % part['line'] in files, '%s: README "Files" does not show its line' % name
    assert '`%s`' % name in variables_row(text, 'forwarding_leave_alone')
    variables_row(text, part['switch'])
    entry_points = section(readme(ROLE), '## Entry points')
    assert '| `%s` |' % name in entry_points


def test_the_role_hands_its_paths_to_forwarding_info():
    looks = [task['happyssh.agent.forwarding_info'] for task in load(ROLE, 'tasks', 'main.yml')
             if 'happyssh.agent.forwarding_info' in task]
    assert len(looks) == 2
    assert all(look['paths'] == '{{ __forwarding_look_paths }}' for look in looks)


def test_the_role_derives_every_part_and_looks_at_every_dotfile(role_copy):
    code, seen = derive(role_copy, forwarding_prompt_hook=True, forwarding_leave_alone='screen')
    assert code == 0, seen
    assert seen['wanted'] == seen['parts'] == ['rc', 'tmux', 'screen', 'prompt']
    for part in table().values():
        for rel in [d['path'] for d in part['dotfile']] + part['reads'] + part['scan']:
            assert rel in seen['look']
    alice = dict((f['path'], f) for f in seen['files']['alice'])
    assert alice['/home/alice/.config/tmux/tmux.conf']['reads'] == ['/home/alice/.tmux.conf', '/home/alice/.config/tmux/tmux.conf']
    assert alice['/home/alice/.bashrc']['line'] == table()['prompt']['line']
    assert alice['/home/alice/.screenrc']['leave_alone'] is True
    assert alice['/home/alice/.ssh/rc']['position'] == 'top'
    assert '/home/zoe/.zshrc' in [f['path'] for f in seen['files']['zoe']]


def add_part(role):
    """The throwaway part xsession (X session startup, ~/.xsessionrc: a dotfile no other part
    reads), added where the table says a part lives and nowhere else."""
    variables = load(role, 'vars', 'main.yml')
    variables['__forwarding_part_table']['xsession'] = dict(
        switch='forwarding_xsession', needs=[], owned='xsessionrc', template='xsessionrc.j2', beside_keeper=[],
        keeper=False, line='. ~/.ssh/happyssh/xsessionrc', dotfile=[dict(when='any', path='.xsessionrc')],
        position='bottom', reads=[], scan=[], link_writers=False, old_block='xsession', system=None)
    dump(variables, role, 'vars', 'main.yml')
    with open(os.path.join(role, 'templates', 'xsessionrc.j2'), 'w') as handle:
        handle.write('export SSH_AUTH_SOCK="{{ __forwarding_link_abs }}"\n')
    with open(os.path.join(role, 'defaults', 'main.yml'), 'a') as handle:
        handle.write('forwarding_xsession: true\n')
    specs = load(role, 'meta', 'argument_specs.yml')
    options = specs['argument_specs']['main']['options']
    options['forwarding_xsession'] = dict(type='bool', default=True, description='X session part.')
    options['forwarding_leave_alone']['choices'].append('xsession')
    dump(specs, role, 'meta', 'argument_specs.yml')


def test_a_part_added_in_four_places_is_set_up_looked_at_and_left_alone(role_copy):
    add_part(role_copy)
    code, seen = derive(role_copy)
    assert code == 0, seen
    assert seen['wanted'] == seen['parts'] == ['rc', 'tmux', 'screen', 'xsession']
    assert '.xsessionrc' in seen['look']
    files = dict((f['path'], f) for f in seen['files']['alice'])
    assert files['/home/alice/.ssh/happyssh/xsessionrc']['content'] == 'export SSH_AUTH_SOCK="/home/alice/.ssh/ssh_auth_sock"\n'
    include = files['/home/alice/.xsessionrc']
    assert (include['kind'], include['line'], include['old_blocks'], include['leave_alone']) == \
        ('include', '. ~/.ssh/happyssh/xsessionrc', ['xsession'], False)
    code, seen = derive(role_copy, forwarding_leave_alone=['xsession'], forwarding_rc=False)
    assert code == 0, seen
    assert seen['parts'] == ['tmux', 'screen', 'xsession']
    assert dict((f['path'], f) for f in seen['files']['alice'])['/home/alice/.xsessionrc']['leave_alone'] is True


def test_a_part_switched_off_or_kept_alone_by_its_entry_point(role_copy):
    add_part(role_copy)
    code, seen = derive(role_copy, forwarding_xsession=False)
    assert code == 0, seen
    assert 'xsession' not in seen['parts']
    assert not [f for f in seen['files']['alice'] if 'xsession' in f['path']]
    code, seen = derive(role_copy, __forwarding_only='xsession')
    assert code == 0, seen
    assert seen['parts'] == ['xsession']
    assert [f['path'] for f in seen['files']['alice'] if f['kind'] != 'absent'] == \
        ['/home/alice/.ssh/happyssh/xsessionrc', '/home/alice/.xsessionrc']


def test_a_part_the_specs_do_not_know_fails_before_anything_is_derived(role_copy):
    code, output = derive(role_copy, forwarding_leave_alone=['xsession'])
    assert code != 0
    assert re.search(r'forwarding_leave_alone.*xsession|xsession.*forwarding_leave_alone', output)
