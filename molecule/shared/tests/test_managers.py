"""Homes whose dotfiles a manager installs, with the real managers: dotdrop (a copying manager,
installed on the host from its wheels by prepare) and yadm (a git repository whose work tree is the
home, Debian's package). A file a manager owns is never edited: the role warns once per file,
naming the manager, the file and the exact line to add to the manager's source; once the user has
done so, the manager and the role converge in any order and the link stays with a live login."""

import re

from harness import apply_role, recap
from test_existing_homes import FIRST_FORM, assert_link_stays_with, fresh_account, put, short_connections

DOTDROP_CONFIG = """config:
  backup: false
  create: true
  dotpath: dotfiles
  check_version: false
  banner: false
dotfiles:
  f_tmux:
    src: tmux.conf
    dst: ~/.tmux.conf
  f_screenrc:
    src: screenrc
    dst: ~/.screenrc
  f_ssh_rc:
    src: ssh/rc
    dst: ~/.ssh/rc
profiles:
  laptop:
    dotfiles:
    - f_tmux
    - f_screenrc
    - f_ssh_rc
"""
# The source of each installed file, relative to the home.
DOTDROP_SOURCES = {".tmux.conf": "dotfiles/dotfiles/tmux.conf", ".screenrc": "dotfiles/dotfiles/screenrc",
                   ".ssh/rc": "dotfiles/dotfiles/ssh/rc"}
# tmux 3.1 and later also read ~/.config/tmux/tmux.conf, which dotdrop does not install: the tmux
# line goes there, and only the other two files are warned about.
WARNED = (".screenrc", ".ssh/rc")
DOTDROP = "dotdrop -c ~/dotfiles/config.yaml -p laptop"
ADVICE = re.compile(r"(/home/\S+) is owned by (\S+) \(.*?\), so the collection leaves it alone: "
                    r"add the line '(.*?)' to (\S+?)(?=[;\"\n]|$)")


def as_user(target, user, command):
    """A command run as the account on the host (over ssh, without an agent)."""
    proc = target.run(user, command, check=False)
    return proc.returncode, proc.stdout.decode() + proc.stderr.decode()


def fingerprints(target, user, names):
    return target.root("cd ~%s && sha256sum %s" % (user, " ".join(names)))


def advice_by_file(out):
    """{dotfile: (manager, line, source)} of the warnings, and how often each file was warned about."""
    found = ADVICE.findall(out)
    counts = {}
    for path, _manager, _line, _source in found:
        counts[path] = counts.get(path, 0) + 1
    return {path: (manager, line, source) for path, manager, line, source in found}, counts


def dotdrop_home(target, user):
    """An account whose ~/.tmux.conf, ~/.screenrc and ~/.ssh/rc (the blog recipe in it) dotdrop
    installs by copying from ~/dotfiles/dotfiles."""
    fresh_account(target, user)
    # ~/.ssh made private first, as most accounts have it: dotdrop would make it with the login's
    # umask (002 where pam_umask gives user-private groups one).
    target.root(f"install -d -m 700 -o {user} -g {user} ~{user}/.ssh")
    put(target, user, "dotfiles/config.yaml", DOTDROP_CONFIG)
    put(target, user, DOTDROP_SOURCES[".tmux.conf"], "set -g history-limit 6000\n")
    put(target, user, DOTDROP_SOURCES[".screenrc"], "defscrollback 6000\n")
    put(target, user, DOTDROP_SOURCES[".ssh/rc"], "umask 022\n" + FIRST_FORM)
    code, out = as_user(target, user, DOTDROP + " install -f")
    assert code == 0, out
    assert target.root(f"cat ~{user}/.ssh/rc") == "umask 022\n" + FIRST_FORM


def test_a_home_dotdrop_installs_is_never_edited_and_converges_beside_it(target, agents):
    user = "dotty"
    home = f"/home/{user}"
    dotdrop_home(target, user)
    before = fingerprints(target, user, DOTDROP_SOURCES)
    for _run in range(2):
        proc = apply_role(f"forwarding_users={user}")
        out = proc.stdout + proc.stderr
        assert recap(proc)["failed"] == 0, out[-3000:]
        advice, counts = advice_by_file(out)
        assert counts == {f"{home}/{name}": 1 for name in WARNED}, out[-4000:]
        for name in WARNED:
            source = DOTDROP_SOURCES[name]
            assert advice[f"{home}/{name}"][0] == "dotdrop" and advice[f"{home}/{name}"][2] == f"{home}/{source}"
        assert f"{home}/.ssh/rc:2: line 2: the blog recipe" in out, out[-4000:]
        assert f"take it out of {home}/{DOTDROP_SOURCES['.ssh/rc']} (dotdrop owns this file)" in out
        assert fingerprints(target, user, DOTDROP_SOURCES) == before
        code, said = as_user(target, user, DOTDROP + " compare")
        assert code == 0, said
    assert recap(proc)["changed"] == 0, proc.stdout[-3000:]

    # The user does what the warnings say, in dotdrop's source, and installs.
    for name in WARNED:
        source = DOTDROP_SOURCES[name]
        put(target, user, source, target.root(f"cat ~{user}/{source}").replace(FIRST_FORM, "")
            + advice[f"{home}/{name}"][1] + "\n")
    code, out = as_user(target, user, DOTDROP + " install -f")
    assert code == 0, out
    converge_beside_dotdrop(target, user)
    # tmux reads both: the user's history limit and the collection's link.
    code, out = as_user(target, user, "tmux -L dd start-server \\; show-options -g history-limit"
                        " \\; show-environment -g SSH_AUTH_SOCK")
    assert "history-limit 6000" in out and f"SSH_AUTH_SOCK={home}/.ssh/ssh_auth_sock" in out, out

    laptop, rsync, desk = agents("laptop"), agents("rsync"), agents("desk")
    with target.session(user, laptop) as owner:
        assert_link_stays_with(target, user, owner, "laptop")
        short_connections(target, user, rsync)
        assert_link_stays_with(target, user, owner, "laptop")
        code, out = as_user(target, user, "tmux -L dd new-session -d -s work"
                            " 'echo \"$SSH_AUTH_SOCK\" >~/pane-sock; exec sleep 600'"
                            " && for i in $(seq 50); do [ -s ~/pane-sock ] && break; sleep 0.1; done")
        assert code == 0, out
    # The pane from before the disconnect uses the agent of the next login.
    with target.session(user, desk):
        code, out = as_user(target, user, 'SSH_AUTH_SOCK="$(cat ~/pane-sock)" timeout 5 ssh-add -l')
        assert "desk" in out, out
    as_user(target, user, "tmux -L dd kill-server")


def converge_beside_dotdrop(target, user):
    """Role, manager, role, manager: nothing changes, nothing to warn about, no drift."""
    for _round in range(2):
        proc = apply_role(f"forwarding_users={user}")
        assert recap(proc) == dict(recap(proc), changed=0, failed=0), proc.stdout[-3000:]
        out = proc.stdout + proc.stderr
        assert "is owned by" not in out and "blog recipe" not in out, out[-3000:]
        code, said = as_user(target, user, DOTDROP + " compare")
        assert code == 0, said
        code, said = as_user(target, user, DOTDROP + " install -f")
        assert code == 0, said


def test_the_recipe_in_a_yadm_tracked_rc_is_reported_and_never_edited(target):
    user = "yael"
    home = f"/home/{user}"
    fresh_account(target, user)
    put(target, user, ".ssh/rc", FIRST_FORM)
    commit = ("GIT_AUTHOR_NAME=y GIT_AUTHOR_EMAIL=y@example.invalid GIT_COMMITTER_NAME=y"
              " GIT_COMMITTER_EMAIL=y@example.invalid yadm commit -q -m dotfiles")
    code, out = as_user(target, user, "yadm init -q && yadm add ~/.ssh/rc && " + commit)
    assert code == 0, out
    assert target.root(f"test -f ~{user}/.local/share/yadm/repo.git/HEAD && echo yes").strip() == "yes"
    for _run in range(2):
        proc = apply_role(f"forwarding_users={user}")
        assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
        out = proc.stdout + proc.stderr
        assert f"{home}/.ssh/rc:1: line 1: the blog recipe" in out, out[-3000:]
        advice, counts = advice_by_file(out)
        assert counts.get(f"{home}/.ssh/rc") == 1 and advice[f"{home}/.ssh/rc"][0] == "yadm", out[-3000:]
        assert "(yadm owns this file)" in out
        code, said = as_user(target, user, "yadm status --porcelain")
        assert (code, said) == (0, ""), said
    assert recap(proc)["changed"] == 0, proc.stdout[-3000:]
    assert target.root(f"cat ~{user}/.ssh/rc") == FIRST_FORM
    # What the warning says, done through yadm: then the role has nothing to say about the rc.
    put(target, user, ".ssh/rc", advice[f"{home}/.ssh/rc"][1] + "\n")
    code, out = as_user(target, user, "yadm add ~/.ssh/rc && " + commit)
    assert code == 0, out
    proc = apply_role(f"forwarding_users={user}")
    assert recap(proc) == dict(recap(proc), changed=0, failed=0), proc.stdout[-3000:]
    assert f"{home}/.ssh/rc" not in proc.stdout + proc.stderr, proc.stdout[-3000:]
    assert as_user(target, user, "yadm status --porcelain") == (0, "")
