"""Homes as people already have them: the blog recipe in ~/.ssh/rc or a shell startup file (taken
out, or reported with its line when left alone), accounts that cannot log in (skipped). Each
account is made here, so the scenario's other accounts are not touched."""

import os
import subprocess

import pytest

from harness import apply_role, recap

FIRST_FORM = 'if test "$SSH_AUTH_SOCK"; then ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock; fi\n'
SECOND_FORM = ('#!/bin/bash\n\n# Fix SSH auth socket location so agent forwarding works with tmux\n'
               'if test "$SSH_AUTH_SOCK" ; then\n    ln -sf $SSH_AUTH_SOCK ~/.ssh/ssh_auth_sock\nfi\n')
# What the blog puts in ~/.tmux.conf beside it: harmless, and kept.
RECIPE_TMUX = ('set -g update-environment "DISPLAY SSH_ASKPASS SSH_AGENT_PID SSH_CONNECTION WINDOWID XAUTHORITY"\n'
               'setenv -g SSH_AUTH_SOCK $HOME/.ssh/ssh_auth_sock\n')
INCLUDE = "[ ! -r ~/.ssh/happyssh/rc ] || . ~/.ssh/happyssh/rc"


def fresh_account(target, user, shell="/bin/bash"):
    target.root(f"userdel -r {user} >/dev/null 2>&1; useradd -m -s {shell} {user}")


def put(target, user, path, content):
    """Write a file of the user's, as the user (directories made as needed)."""
    target.root(f"su -s /bin/sh {user} -c 'umask 077 && mkdir -p \"$(dirname ~/{path})\" && cat >~/{path}' <<'EOF'\n"
                f"{content}EOF")


def cat(target, user, path):
    return target.root(f"cat ~{user}/{path}")


def short_connections(target, user, agent, count=20):
    env = dict(os.environ, SSH_AUTH_SOCK=agent.sock)
    procs = [subprocess.Popen(target.argv(user, "true", agent), env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _connection in range(count)]
    assert [proc.wait(timeout=60) for proc in procs] == [0] * count


def assert_link_stays_with(target, user, owner, laptop_name):
    """The home's link still leads through this host's link to the owner's live agent."""
    assert target.root(f"readlink ~{user}/.ssh/ssh_auth_sock").strip() == f"/tmp/happyssh-{user}/agent"
    assert target.link_target(user) == owner.sock
    assert laptop_name in target.keys_through_link(user)


@pytest.mark.parametrize("user,rc", [
    ("rita", FIRST_FORM),
    ("rick", SECOND_FORM),
    # Applied by 0.2.0 already: its line at the top, the recipe kept below it.
    ("rosa", "# Added by happyssh.agent: keeps the forwarded SSH agent reachable.\n" + INCLUDE + "\n" + FIRST_FORM),
], ids=["first-form", "second-form", "below-0.2.0-line"])
def test_the_recipe_is_taken_out_and_short_connections_never_move_the_link(target, agents, user, rc):
    fresh_account(target, user)
    put(target, user, ".ssh/rc", rc)
    put(target, user, ".tmux.conf", RECIPE_TMUX)
    first = apply_role(f"forwarding_users={user}", options=["--diff"])
    assert recap(first)["failed"] == 0, first.stdout[-3000:]
    out = first.stdout + first.stderr
    assert f"/home/{user}/.ssh/rc:" in out and "the blog recipe" in out and "taken out" in out, out[-3000:]
    # The diff shows the recipe going, a backup keeps it.
    assert '-if test "$SSH_AUTH_SOCK"' in out, out[-3000:]
    assert "ln -sf" in target.root(f"cat ~{user}/.ssh/rc.*~")
    rc_now = cat(target, user, ".ssh/rc")
    assert "ln -sf" not in rc_now and rc_now.count(INCLUDE) == 1
    assert cat(target, user, ".tmux.conf") == RECIPE_TMUX
    second = apply_role(f"forwarding_users={user}")
    assert recap(second)["changed"] == 0, second.stdout[-3000:]
    assert "blog recipe" not in second.stdout + second.stderr

    laptop, rsync = agents("laptop"), agents("rsync")
    with target.session(user, laptop) as owner:
        assert_link_stays_with(target, user, owner, "laptop")
        short_connections(target, user, rsync)
        assert_link_stays_with(target, user, owner, "laptop")


def test_the_recipe_in_a_shell_startup_file_is_taken_out(target, agents):
    user = "rory"
    fresh_account(target, user)
    bashrc = cat(target, user, ".bashrc")
    put(target, user, ".bashrc", bashrc + '[ -S "$SSH_AUTH_SOCK" ] && ln -sf "$SSH_AUTH_SOCK" ~/.ssh/ssh_auth_sock\n')
    first = apply_role(f"forwarding_users={user}")
    assert recap(first)["failed"] == 0, first.stdout[-3000:]
    assert f"/home/{user}/.bashrc:" in first.stdout + first.stderr
    assert cat(target, user, ".bashrc") == bashrc
    laptop, other = agents("laptop"), agents("other")
    with target.session(user, laptop) as owner:
        # Interactive logins read ~/.bashrc: the link stays where the keeper put it.
        with target.session(user, other):
            assert_link_stays_with(target, user, owner, "laptop")


def test_the_recipe_left_alone_is_reported_with_its_line_and_kept(target):
    user = "rolf"
    fresh_account(target, user)
    put(target, user, ".ssh/rc", "umask 022\n" + FIRST_FORM)
    before = target.root(f"sha256sum ~{user}/.ssh/rc")
    for _run in range(2):
        proc = apply_role(f"forwarding_users={user}", "forwarding_leave_alone=rc")
        assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
        out = proc.stdout + proc.stderr
        assert f"/home/{user}/.ssh/rc:2: line 2: the blog recipe" in out, out[-3000:]
        assert INCLUDE in out
    assert recap(proc)["changed"] == 0
    assert target.root(f"sha256sum ~{user}/.ssh/rc") == before


def test_other_writers_of_the_link_are_reported_with_their_line(target):
    user = "remy"
    fresh_account(target, user)
    put(target, user, ".tmux.conf", "set -g mouse on\nsetenv -g SSH_AUTH_SOCK $HOME/.ssh/agent_sock\n")
    proc = apply_role(f"forwarding_users={user}")
    assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
    assert f"/home/{user}/.tmux.conf:2: line 2: sets SSH_AUTH_SOCK to $HOME/.ssh/agent_sock" in proc.stdout + proc.stderr
    assert cat(target, user, ".tmux.conf").endswith("agent_sock\n")


def test_accounts_that_cannot_log_in_are_skipped_with_a_note(target):
    fresh_account(target, "nemo", shell="/usr/sbin/nologin")
    target.root("userdel -r fern >/dev/null 2>&1; useradd -M -d /nonexistent -s /bin/false fern")
    fresh_account(target, "nell")
    proc = apply_role('{"forwarding_users": ["nemo", "fern", "nell"]}')
    assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
    out = proc.stdout + proc.stderr
    assert "nemo skipped: /usr/sbin/nologin" in out and "fern skipped: /bin/false" in out
    assert target.root("ls -A ~nemo").split() == target.root("ls -A /etc/skel").split()
    assert target.root("test -f ~nell/.ssh/happyssh/rc && echo ok").strip() == "ok"
    again = apply_role('{"forwarding_users": ["nemo", "fern", "nell"]}')
    assert recap(again)["changed"] == 0


def test_a_home_tracked_by_a_bare_repository_is_never_edited(target, agents):
    """The bare-repository technique (git --git-dir=~/.cfg --work-tree=~) tracks ~/.ssh/rc, which
    holds the recipe, and ~/.tmux.conf: both are reported, never edited, and the role converges."""
    user = "yves"
    fresh_account(target, user)
    put(target, user, ".ssh/rc", FIRST_FORM)
    put(target, user, ".tmux.conf", "set -g history-limit 5000\n")
    git = "git --git-dir=$HOME/.cfg --work-tree=$HOME"
    target.root(f"su - {user} -c 'git init -q --bare ~/.cfg && {git} config status.showUntrackedFiles no"
                f" && {git} add .ssh/rc .tmux.conf && {git} -c user.name=y -c user.email=y@example.invalid"
                f" commit -qm dotfiles'")
    for _run in range(2):
        proc = apply_role(f"forwarding_users={user}")
        assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
        out = proc.stdout + proc.stderr
        assert f"/home/{user}/.ssh/rc:1: line 1: the blog recipe" in out, out[-3000:]
        assert f"/home/{user}/.ssh/rc is owned by" in out and "git" in out, out[-3000:]
        assert target.run(user, f"{git} status --porcelain -uno").stdout.decode() == ""
    assert recap(proc)["changed"] == 0, proc.stdout[-3000:]
    assert cat(target, user, ".ssh/rc") == FIRST_FORM
