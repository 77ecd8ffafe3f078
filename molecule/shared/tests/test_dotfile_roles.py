"""Beside the tools that own users' dotfiles: the example dotfile role of examples/dotfiles
(it templates ~/.tmux.conf, ~/.screenrc and ~/.ssh/rc whole and includes the role the
documented way) and a stow-style home (dotfiles are symlinks into a git repository). Each is
applied twice (the second run changes nothing) and then lives through the reconnect story."""

import os

import pytest

from harness import recap, run_playbook
from test_story import screen_keys, tmux_keys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def reconnect_story(target, agents, user):
    """tmux and screen started from one laptop's connection work from the next one's."""
    laptop_a, laptop_b = agents("laptop-A"), agents("laptop-B")
    with target.session(user, laptop_a):
        target.run(user, "tmux kill-server 2>/dev/null; tmux new-session -d -s story; screen -wipe >/dev/null;"
                         " screen -dmS story", agent=laptop_a, check=False)
        assert "laptop-A" in tmux_keys(target, user, "story:0.0")
        assert "laptop-A" in screen_keys(target, user, 0, session="story")
    with target.session(user, laptop_b) as second:
        assert target.link_target(user) == second.sock
        assert "laptop-B" in tmux_keys(target, user, "story:0.0")
        assert "laptop-B" in screen_keys(target, user, 0, session="story")
    target.run(user, "tmux kill-server; screen -S story -X quit", check=False)


def apply_twice(example, extra_vars):
    """Run an example playbook twice: the first run works, the second changes nothing."""
    playbook = os.path.join(ROOT, "examples", example, "playbook.yml")
    first, second = [run_playbook(playbook, extra_vars) for _run in range(2)]
    assert recap(first)["failed"] == 0, first.stdout[-3000:]
    assert recap(second)["changed"] == 0, second.stdout[-3000:]
    return second


@pytest.fixture(scope="module")
def dotfile_role_second_run():
    return apply_twice("dotfiles", "dotfiles_users=dora")


def test_example_dotfile_role_converges(target, dotfile_role_second_run):
    assert "add the line" not in dotfile_role_second_run.stdout + dotfile_role_second_run.stderr
    # The dotfile role's templates are exactly what it wrote: no line of ours was added.
    assert target.root("grep -c happyssh ~dora/.tmux.conf ~dora/.screenrc ~dora/.ssh/rc").split() == \
        ["/home/dora/.tmux.conf:1", "/home/dora/.screenrc:1", "/home/dora/.ssh/rc:1"]
    assert target.root("test -e ~dora/.config/tmux/tmux.conf && echo made || echo none").strip() == "none"


def test_example_dotfile_role_reconnect_story(target, agents, dotfile_role_second_run):
    reconnect_story(target, agents, "dora")


@pytest.fixture(scope="module")
def stow_second_run():
    return apply_twice("stow", "stow_user=stan")


def test_stow_repository_stays_clean(target, stow_second_run):
    status = target.run("stan", "git -C ~/dotfiles status --porcelain --ignored").stdout.decode()
    assert status == "", status
    assert target.root("readlink ~stan/.tmux.conf ~stan/.screenrc").split() == \
        ["dotfiles/tmux/.tmux.conf", "dotfiles/screen/.screenrc"]


def test_stow_home_reconnect_story(target, agents, stow_second_run):
    reconnect_story(target, agents, "stan")
