# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rendered ~/.ssh/rc and happyssh-link, run as sshd runs them, under every supported shell.

Every run also checks (in conftest.Env._run) that nothing reached stdout, that the lock was
released and that no temporary file was left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

NOBODY = 65534
PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

COOKIE = '0123456789abcdef0123456789abcdef'

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='changing owners needs root')


def linked(env, sess, kind):
    """The link leads to sess, and the state file records it as kind."""
    assert env.target() == sess.sock
    assert env.owner() == [kind, sess.sock]


# First login ------------------------------------------------------------------------------------

@pytest.mark.parametrize('tty', [False, True], ids=['notty', 'tty'])
def test_no_link_yet_links_own_socket(env, shell, tty):
    own = env.session('own', tty=tty)
    result = env.login(shell, own, tty=tty)
    assert result.stderr == b''
    linked(env, own, 'tty' if tty else 'notty')
    assert env.through_link() == ['own']


def test_link_already_on_own_socket_is_kept(env, shell):
    own = env.session('own')
    env.login(shell, own)
    before = os.lstat(env.link)
    env.login(shell, own)
    assert os.lstat(env.link).st_ino == before.st_ino
    linked(env, own, 'notty')


def test_without_forwarded_agent_nothing_happens(env, shell):
    env.login(shell, '')
    assert not os.path.lexists(env.link)
    assert env.owner() is None


# Non-interactive logins --------------------------------------------------------------------------

@pytest.mark.parametrize('owner_tty', [False, True], ids=['notty-owner', 'tty-owner'])
def test_notty_login_keeps_live_owner(env, shell, owner_tty):
    owner = env.session('owner', tty=owner_tty)
    env.login(shell, owner, tty=owner_tty)
    state = env.owner()
    new = env.session('new')
    env.login(shell, new)
    assert env.target() == owner.sock
    assert env.owner() == state


def test_notty_login_does_not_probe_live_owner(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.hang()
    new = env.session('new')
    result = env.login(shell, new)
    assert owner.probes == 0
    assert result.stderr == b''
    linked(env, owner, 'tty')


def test_notty_login_with_live_owner_runs_no_command(env, shell):
    if shell[0] == 'posh':
        pytest.skip('posh has neither test -O nor -ef: the keeper falls back to ls, id and readlink')
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    # A PATH with nothing but the shell: any command run would fail, loudly, on stderr.
    bindir = os.path.join(env.home, 'bin')
    os.mkdir(bindir)
    os.symlink(shutil.which(shell[0]), os.path.join(bindir, shell[0]))
    new = env.session('new')
    result = env.login(shell, new, extra={'PATH': bindir})
    assert result.stderr == b''
    linked(env, owner, 'tty')


def test_notty_login_replaces_stale_owner(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    new = env.session('new')
    env.login(shell, new)
    linked(env, new, 'notty')
    assert env.through_link() == ['new']


def test_notty_login_replaces_missing_owner(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.remove()
    new = env.session('new')
    env.login(shell, new)
    linked(env, new, 'notty')


def test_notty_login_replaces_owner_without_state_file(env, shell):
    owner = env.session('owner')
    os.symlink(owner.sock, env.link)
    owner.kill_sshd()
    new = env.session('new')
    env.login(shell, new)
    linked(env, new, 'notty')


@pytest.mark.parametrize('sshd_name', ['sshd', 'sshd-session'])
@pytest.mark.parametrize('layout', ['tmp', 'home'], ids=['openssh-10.0', 'openssh-10.1'])
def test_notty_login_prefers_live_interactive_socket(env, shell, layout, sshd_name):
    owner = env.session('owner')
    env.login(shell, owner)
    owner.kill_sshd()
    interactive = env.session('interactive', tty=True, layout=layout, sshd_name=sshd_name)
    other_notty = env.session('other-notty', layout=layout, sshd_name=sshd_name)
    new = env.session('new', layout=layout, sshd_name=sshd_name)
    env.login(shell, new)
    linked(env, interactive, 'tty')
    assert env.through_link() == ['interactive']
    assert other_notty.sock != env.target()


def test_notty_login_skips_hung_interactive_socket(env, shell):
    interactive = env.session('interactive', tty=True)
    interactive.hang()
    new = env.session('new')
    result = env.login(shell, new)
    assert result.elapsed < 10
    linked(env, new, 'notty')


def test_notty_login_skips_interactive_socket_in_shared_directory(env, shell):
    interactive = env.session('interactive', tty=True)
    os.chmod(interactive.real_dir, 0o777)
    new = env.session('new')
    env.login(shell, new)
    linked(env, new, 'notty')


# Interactive logins ------------------------------------------------------------------------------

def test_tty_login_takes_over_from_notty_owner(env, shell):
    owner = env.session('owner')
    env.login(shell, owner)
    linked(env, owner, 'notty')
    new = env.session('new', tty=True)
    env.login(shell, new, tty=True)
    linked(env, new, 'tty')
    assert env.through_link() == ['new']


def test_tty_login_keeps_live_tty_owner(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    new = env.session('new', tty=True)
    env.login(shell, new, tty=True)
    linked(env, owner, 'tty')


@pytest.mark.parametrize('how', ['listener', 'sigstop'])
def test_tty_login_takes_over_from_hung_tty_owner(env, shell, how):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.hang(how)
    new = env.session('new', tty=True)
    result = env.login(shell, new, tty=True)
    assert result.elapsed < 10
    linked(env, new, 'tty')
    if how == 'listener':
        # One probe: the frozen owner costs one timeout, not one before and one under the lock.
        assert owner.probes == 1


@pytest.mark.parametrize('hung', [False, True], ids=['live-owner', 'hung-owner'])
def test_probe_is_bounded_without_timeout_command(env, shell, path_without_timeout, hung):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    if hung:
        owner.hang()
    new = env.session('new', tty=True)
    result = env.login(shell, new, tty=True, extra={'PATH': path_without_timeout})
    assert result.elapsed < 10
    linked(env, new if hung else owner, 'tty')


def test_tty_login_replaces_stale_tty_owner(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    new = env.session('new', tty=True)
    env.login(shell, new, tty=True)
    linked(env, new, 'tty')


# Sockets of other users, hostile and broken links ---------------------------------------------------

@needs_root
@pytest.mark.parametrize('what', ['socket', 'directory'])
def test_own_socket_of_another_user_is_never_linked(env, shell, what):
    own = env.session('own')
    os.chown(own.real if what == 'socket' else own.real_dir, NOBODY, NOBODY)
    env.login(shell, own)
    assert not os.path.lexists(env.link)
    assert env.owner() is None


@needs_root
@pytest.mark.parametrize('what', ['socket', 'directory'])
def test_interactive_socket_of_another_user_is_never_linked(env, shell, what):
    foreign = env.session('foreign', tty=True)
    os.chown(foreign.real if what == 'socket' else foreign.real_dir, NOBODY, NOBODY)
    new = env.session('new')
    env.login(shell, new)
    linked(env, new, 'notty')


@needs_root
def test_owner_of_another_user_is_replaced(env, shell):
    foreign = env.session('foreign', tty=True)
    env.login(shell, foreign, tty=True)
    os.chown(foreign.real, NOBODY, NOBODY)
    new = env.session('new')
    env.login(shell, new)
    linked(env, new, 'notty')


def test_link_to_itself_is_repaired(env, shell):
    os.symlink(env.link, env.link)
    own = env.session('own')
    env.login(shell, own)
    linked(env, own, 'notty')


def test_stale_lock_is_broken_and_removed(env, shell):
    dead = subprocess.Popen(['true'])
    dead.wait()
    assert not os.path.exists('/proc/%d' % dead.pid)
    os.symlink(str(dead.pid), env.lock)
    own = env.session('own')
    env.login(shell, own)
    linked(env, own, 'notty')
    assert not os.path.lexists(env.lock)


def test_lock_of_live_process_is_not_stolen(env, shell):
    holder = str(os.getpid())
    os.symlink(holder, env.lock)
    env.foreign_lock = holder
    own = env.session('own')
    result = env.login(shell, own)
    assert result.elapsed < 10
    linked(env, own, 'notty')
    assert os.readlink(env.lock) == holder


def test_regular_file_is_left_alone(env, shell):
    with open(env.link, 'w') as f:
        f.write('mine\n')
    own = env.session('own', tty=True)
    result = env.login(shell, own, tty=True)
    with open(env.link) as f:
        assert f.read() == 'mine\n'
    assert not os.path.islink(env.link)
    assert b'not a symlink' in result.stderr


def test_directory_symlink_is_replaced_not_entered(env, shell):
    os.mkdir(os.path.join(env.home, 'somedir'))
    os.symlink(os.path.join(env.home, 'somedir'), env.link)
    own = env.session('own')
    env.login(shell, own)
    linked(env, own, 'notty')
    assert os.listdir(os.path.join(env.home, 'somedir')) == []


# X11 passthrough ---------------------------------------------------------------------------------

def xauth_list(path):
    result = subprocess.run(['xauth', '-f', path, 'list'], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=10, check=False)
    return result.stdout


@pytest.mark.skipif(shutil.which('xauth') is None, reason='xauth is not installed')
def test_x11_cookie_is_passed_to_xauth(env, shell):
    xauthority = os.path.join(env.home, 'xauthority')
    own = env.session('own', tty=True)
    result = env.login(shell, own, tty=True, stdin=('MIT-MAGIC-COOKIE-1 %s\n' % COOKIE).encode(),
                       extra={'DISPLAY': 'localhost:10.0', 'XAUTHORITY': xauthority})
    assert result.elapsed < 10
    entries = [line.split() for line in xauth_list(xauthority).splitlines()]
    assert any(e[0].endswith('unix:10') and e[1:] == ['MIT-MAGIC-COOKIE-1', COOKIE] for e in entries), entries
    linked(env, own, 'tty')


@pytest.mark.skipif(shutil.which('xauth') is None, reason='xauth is not installed')
def test_x11_without_cookie_adds_nothing(env, shell):
    xauthority = os.path.join(env.home, 'xauthority')
    own = env.session('own', tty=True)
    result = env.login(shell, own, tty=True, stdin=b'',
                       extra={'DISPLAY': 'localhost:10.0', 'XAUTHORITY': xauthority}, timeout=10)
    assert result.elapsed < 10
    assert not os.path.exists(xauthority) or xauth_list(xauthority) == ''
    linked(env, own, 'tty')


# Prompt hook -------------------------------------------------------------------------------------

def test_prompt_repoints_dead_link(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.remove()
    interactive = env.session('interactive', tty=True)
    env.hook(shell, 'prompt')
    linked(env, interactive, 'tty')


def test_prompt_keeps_live_link(env, shell):
    owner = env.session('owner')
    env.login(shell, owner)
    env.session('interactive', tty=True)
    env.hook(shell, 'prompt')
    linked(env, owner, 'notty')


def test_prompt_without_candidate_leaves_dead_link(env, shell):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.remove()
    env.hook(shell, 'prompt')
    assert env.target() == owner.sock


# tmux attach and active hooks --------------------------------------------------------------------

def client(env, sock):
    """A process standing in for the attaching tmux client, SSH_AUTH_SOCK in its environment."""
    return env.spawn(['sleep', '300'], {'PATH': '/usr/bin:/bin', 'SSH_AUTH_SOCK': sock.sock})


@pytest.fixture(params=['attach', 'active'])
def tmux_hook(request):
    """The keeper's mode for tmux's client-attached hook and for its client-active hook (a client
    becomes the one typed in): one set of rules, so every test of the attach hook runs for both."""
    return request.param


@pytest.mark.parametrize('layout', ['tmp', 'home'], ids=['openssh-10.0', 'openssh-10.1'])
def test_attach_follows_client(env, shell, layout, tmux_hook):
    """The hook has no socket of its own to read this host's hash from (OpenSSH 10.1 names): it
    computes it, and the attaching client's socket of this host is taken."""
    owner = env.session('owner', tty=True, layout=layout)
    env.login(shell, owner, tty=True)
    laptop = env.session('laptop', tty=True, layout=layout)
    env.hook(shell, tmux_hook, client(env, laptop).pid)
    linked(env, laptop, 'tty')
    assert env.through_link() == ['laptop']


def test_attach_ignores_a_client_of_another_host(env, shell, tmux_hook):
    owner = env.session('owner', tty=True, layout='home')
    env.login(shell, owner, tty=True)
    foreign = env.session('other-host', tty=True, layout='home', host='hostb')
    env.hook(shell, tmux_hook, client(env, foreign).pid)
    linked(env, owner, 'tty')


@needs_root
def test_attach_ignores_socket_of_another_user(env, shell, tmux_hook):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    laptop = env.session('laptop', tty=True)
    os.chown(laptop.real, NOBODY, NOBODY)
    env.hook(shell, tmux_hook, client(env, laptop).pid)
    linked(env, owner, 'tty')


def test_attach_ignores_socket_in_shared_directory(env, shell, tmux_hook):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    laptop = env.session('laptop', tty=True)
    os.chmod(laptop.real_dir, 0o770)
    env.hook(shell, tmux_hook, client(env, laptop).pid)
    linked(env, owner, 'tty')


def test_attach_ignores_hung_agent(env, shell, tmux_hook):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    laptop = env.session('laptop', tty=True)
    laptop.hang()
    result = env.hook(shell, tmux_hook, client(env, laptop).pid)
    assert result.elapsed < 10
    linked(env, owner, 'tty')


def test_attach_to_gone_process_changes_nothing(env, shell, tmux_hook):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    gone = subprocess.Popen(['true'])
    gone.wait()
    result = env.hook(shell, tmux_hook, gone.pid)
    assert result.stderr == b''
    linked(env, owner, 'tty')


def test_active_follows_the_client_typed_in(env, shell):
    """Desktop and laptop attached to one session: the link goes to whichever becomes active, and
    back again."""
    desk = env.session('desk', tty=True)
    env.login(shell, desk, tty=True)
    laptop = env.session('laptop', tty=True)
    desk_client, laptop_client = client(env, desk), client(env, laptop)
    env.hook(shell, 'active', laptop_client.pid)
    linked(env, laptop, 'tty')
    env.hook(shell, 'active', desk_client.pid)
    linked(env, desk, 'tty')
    assert env.through_link() == ['desk']


def test_active_on_the_linked_client_makes_no_probe(env, shell):
    """The client the link already leads to becomes active again (another window, a detach of
    the other client): nothing is asked of its agent, not even a frozen one."""
    desk = env.session('desk', tty=True)
    env.login(shell, desk, tty=True)
    desk.hang()
    result = env.hook(shell, 'active', client(env, desk).pid)
    assert desk.probes == 0
    assert result.stderr == b''
    linked(env, desk, 'tty')


def fake_commands(env, **scripts):
    """A directory of stand-in commands, put first in PATH; returns the extra environment."""
    bindir = os.path.join(env.home, 'bin')
    os.makedirs(bindir, exist_ok=True)
    for name, text in scripts.items():
        path = os.path.join(bindir, name)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o755)
    return {'PATH': bindir + ':' + PATH}


UNLINKING_LN = """#!/bin/sh
# ln -sf as busybox and BSD do it: unlink the old name first, then create the new link.
case $1 in
  -sf | -fs) rm -f "$3" && sleep 0.5 && exec %s -s "$2" "$3" ;;
esac
exec %s "$@"
"""


def test_link_never_missing_while_repointed(env, shell):
    """A reader never sees the link missing, even where ln -sf unlinks first (busybox, BSD)."""
    real_ln = shutil.which('ln')
    extra = fake_commands(env, ln=UNLINKING_LN % (real_ln, real_ln))
    owner = env.session('owner')
    env.login(shell, owner)
    new = env.session('new', tty=True)
    missing = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            if not os.path.lexists(env.link):
                missing.append(time.monotonic())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        env.login(shell, new, tty=True, extra=extra)
    finally:
        stop.set()
        watcher.join()
    linked(env, new, 'tty')
    assert not missing, 'the link was missing in %d of the polls' % len(missing)


def test_login_leaves_link_alone_while_lock_is_held(env, shell):
    """A login does not touch the link while another holds the lock, and goes ahead once it is released."""
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    holder = str(os.getpid())
    os.symlink(holder, env.lock)
    env.foreign_lock = holder
    new = env.session('new', tty=True)
    results = []
    login = threading.Thread(target=lambda: results.append(env.login(shell, new, tty=True)))
    login.start()
    try:
        time.sleep(0.5)
        assert env.target() == owner.sock
    finally:
        os.unlink(env.lock)
        login.join()
    assert results, 'the login failed (see the thread exception above)'
    linked(env, new, 'tty')


FAILING_LN = """#!/bin/sh
# ln in a full (or read-only) ~/.ssh: nothing can be created.
echo "ln: failed to create symbolic link: No space left on device" >&2
exit 1
"""

LOGGING_SLEEP = """#!/bin/sh
echo "$@" >>"%s"
exec %s "$@"
"""

FAILING_STATE_MV = """#!/bin/sh
# mv failing half way through writing the state file, as in a full home.
for last; do :; done
case $last in
  *.owner) echo "mv: No space left on device" >&2; exit 1 ;;
esac
exec %s "$@"
"""


def test_full_ssh_directory_keeps_link_and_costs_no_wait(env, shell):
    """Where no lock can be made and nobody holds one, the login gives up at once: no waiting
    for a lock that will never be released, the old link stays, nothing is printed."""
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    slept = os.path.join(env.home, 'slept')
    extra = fake_commands(env, ln=FAILING_LN, sleep=LOGGING_SLEEP % (slept, shutil.which('sleep')))
    new = env.session('new', tty=True)
    result = env.login(shell, new, tty=True, extra=extra)
    assert result.stderr == b''
    assert env.target() == owner.sock
    assert not os.path.exists(slept), 'waited for a lock nobody holds: sleep %s' % open(slept).read().split()


def test_failed_state_write_leaves_no_partial_file(env, shell):
    """The link is repointed, the state file is dropped rather than left stale or half
    written, and the next login judges the owner from the link itself."""
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    new = env.session('new', tty=True)
    result = env.login(shell, new, tty=True, extra=fake_commands(env, mv=FAILING_STATE_MV % shutil.which('mv')))
    assert result.stderr == b''
    assert env.target() == new.sock
    assert env.owner() is None
    later = env.session('later')
    env.login(shell, later)
    assert env.target() == new.sock
    assert env.through_link() == ['new']


def test_notty_login_takes_longest_lived_notty_socket(env, shell):
    """No interactive socket: the connection that has lived longest (an editor) wins over this one."""
    editor = env.session('editor')
    newer = env.session('newer')
    new = env.session('new')
    env.login(shell, new)
    linked(env, editor, 'notty')
    assert newer.sock != env.target()


def test_editor_connection_keeps_agent_after_laptop_dies(env, shell):
    """Laptop C owns the link, editor D (no tty) stays open; C dies; one short login arrives."""
    laptop = env.session('laptop', tty=True)
    env.login(shell, laptop, tty=True)
    editor = env.session('editor')
    env.login(shell, editor)
    assert env.target() == laptop.sock
    laptop.kill_sshd()
    short = env.session('short')
    env.login(shell, short)
    linked(env, editor, 'notty')
    assert env.through_link() == ['editor']


def test_longest_lived_notty_socket_that_does_not_answer_is_skipped(env, shell):
    editor = env.session('editor')
    editor.hang()
    younger = env.session('younger')
    new = env.session('new')
    env.login(shell, new)
    linked(env, younger, 'notty')


# Hops back into this host ---------------------------------------------------------------------

def hop_connection(env, leads_to_link=True):
    """SSH_CONNECTION of a hop from a pane on this host: its client forwards the link (a loop),
    or, as a control, another socket."""
    return env.local_client(env.link if leads_to_link else '/tmp/ssh-elsewhere/agent.1')


@pytest.mark.parametrize('leads_to_link', [True, False], ids=['loop', 'control'])
def test_tty_hop_never_takes_link_from_notty_owner(env, shell, leads_to_link):
    editor = env.session('editor')
    env.login(shell, editor)
    hop = env.session('hop', tty=True)
    result = env.login(shell, hop, tty=True, extra={'SSH_CONNECTION': hop_connection(env, leads_to_link)})
    assert result.stderr == b''
    if leads_to_link:
        linked(env, editor, 'notty')
        assert env.through_link() == ['editor']
    else:
        linked(env, hop, 'tty')


@pytest.mark.parametrize('owner_tty', [False, True], ids=['notty-owner', 'tty-owner'])
def test_hop_while_owner_dies_never_takes_link(env, shell, owner_tty):
    owner = env.session('owner', tty=owner_tty)
    env.login(shell, owner, tty=owner_tty)
    owner.kill_sshd()
    laptop = env.session('laptop', tty=True)
    hop = env.session('hop', tty=True)
    env.login(shell, hop, tty=True, extra={'SSH_CONNECTION': hop_connection(env)})
    # The hop stays out; another live connection of the user takes the dead owner's place.
    linked(env, laptop, 'tty')


def test_hop_through_two_hops_is_a_loop(env, shell):
    editor = env.session('editor')
    env.login(shell, editor)
    first = hop_connection(env)
    hop1 = env.session('hop1', tty=True, connection=first)
    second = env.local_client(hop1.sock, connection=first)
    hop2 = env.session('hop2', tty=True)
    env.login(shell, hop2, tty=True, extra={'SSH_CONNECTION': second})
    linked(env, editor, 'notty')


def test_notty_login_never_picks_a_hop(env, shell):
    """The owner is gone; a live interactive hop (leading back to the link) is passed over."""
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    owner.kill_sshd()
    env.session('hop', tty=True, connection=hop_connection(env))
    editor = env.session('editor')
    new = env.session('new')
    env.login(shell, new)
    linked(env, editor, 'notty')


def test_attach_from_a_hop_changes_nothing(env, shell, tmux_hook):
    owner = env.session('owner', tty=True)
    env.login(shell, owner, tty=True)
    hop = env.session('hop', tty=True)
    variables = dict(os.environ, SSH_AUTH_SOCK=hop.sock, SSH_CONNECTION=hop_connection(env))
    client = env.spawn(['sleep', '300'], variables)
    env.hook(shell, tmux_hook, client.pid)
    linked(env, owner, 'tty')
