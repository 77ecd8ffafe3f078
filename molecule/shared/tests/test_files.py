"""Where the role's settings live: files the collection owns under ~/.ssh/happyssh, one line
in a user's dotfile at most, none where the program reads a second file by itself; 0.1.0's
blocks migrated; list variables as people type them."""

import pytest

from harness import apply_role, recap

INCLUDE = {
    "rc": "[ ! -r ~/.ssh/happyssh/rc ] || . ~/.ssh/happyssh/rc",
    "tmux": "source-file -q ~/.ssh/happyssh/tmux.conf",
    "screen": "source $HOME/.ssh/happyssh/screenrc",
}


def lines(target, path):
    return target.root(f"cat {path} 2>/dev/null || true").splitlines()


def tmux_version(target):
    version = target.root("tmux -V").split()[1]
    return tuple(int(part) for part in version.rstrip("abcdefghijklmnopqrstuvwxyz").split(".")[:2])


def test_owned_files_are_private_to_the_user(host):
    for name in ("happyssh-link", "rc", "tmux.conf", "screenrc"):
        owned = host.file(f"/home/bob/.ssh/happyssh/{name}")
        assert owned.user == "bob" and owned.mode == 0o644, name
    directory = host.file("/home/bob/.ssh/happyssh")
    assert directory.user == "bob" and directory.mode == 0o700


def test_tmux_reads_its_second_file_and_tmux_conf_stays_the_users(target):
    """alice's own ~/.tmux.conf is byte for byte hers: tmux 3.1 and later also read
    ~/.config/tmux/tmux.conf, which holds the one line; older tmux gets the line in ~/.tmux.conf."""
    own = "set -g history-limit 4242"
    if tmux_version(target) >= (3, 1):
        assert lines(target, "~alice/.tmux.conf") == [own]
        assert INCLUDE["tmux"] in lines(target, "~alice/.config/tmux/tmux.conf")
        # tmux really reads it: a server started with the default files has our global variable.
        env = target.run("alice", "tmux -L second-file new-session -d && tmux -L second-file show-environment -g"
                                  " SSH_AUTH_SOCK; tmux -L second-file kill-server").stdout.decode()
        assert "SSH_AUTH_SOCK=/home/alice/.ssh/ssh_auth_sock" in env
        assert "4242" in target.run("alice", "tmux -L second-file new-session -d && tmux -L second-file"
                                             " show-options -g history-limit; tmux -L second-file kill-server"
                                    ).stdout.decode()
    else:
        assert lines(target, "~alice/.tmux.conf")[:1] == [own]


def test_screenrc_gets_one_line_and_keeps_its_mode(target, host):
    content = lines(target, "~alice/.screenrc")
    assert content[0] == "defscrollback 4242"
    assert content.count(INCLUDE["screen"]) == 1 and len(content) == 3
    assert host.file("/home/alice/.screenrc").mode == 0o600
    backups = target.root("ls -A ~alice | grep '^.screenrc\\..*~$' || true").split()
    assert len(backups) == 1, backups
    assert lines(target, f"~alice/{backups[0]}") == ["defscrollback 4242"]


def test_rc_line_comes_first(target):
    assert lines(target, "~bob/.ssh/rc")[1] == INCLUDE["rc"]


def test_old_blocks_are_migrated_not_duplicated(target):
    """mona had the 0.1.0 layout: blocks in her dotfiles and ~/.ssh/happyssh-link."""
    for path in ("~mona/.tmux.conf", "~mona/.screenrc", "~mona/.ssh/rc", "~mona/.config/tmux/tmux.conf"):
        assert not any("BEGIN happyssh" in line or "END happyssh" in line for line in lines(target, path)), path
    if tmux_version(target) >= (3, 1):
        assert lines(target, "~mona/.tmux.conf") == ["set -g history-limit 4242"]
    assert lines(target, "~mona/.screenrc")[0] == "defscrollback 4242"
    assert INCLUDE["screen"] in lines(target, "~mona/.screenrc")
    rc = lines(target, "~mona/.ssh/rc")
    assert rc[1] == INCLUDE["rc"] and rc[-1] == "echo mona-rc >/dev/null" and len(rc) == 3
    assert target.root("test -e ~mona/.ssh/happyssh-link && echo old || echo gone").strip() == "gone"


def test_a_line_already_present_means_no_change(target):
    """A user who puts the line in a dotfile by hand (or a dotfile tool) gets nothing added."""
    target.root("printf 'defscrollback 99\\nsource $HOME/.ssh/happyssh/screenrc\\n' >~walt/.screenrc;"
                " chown walt: ~walt/.screenrc")
    before = target.root("sha256sum ~walt/.screenrc")
    proc = apply_role('{"forwarding_users": ["walt"]}')
    assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
    assert target.root("sha256sum ~walt/.screenrc") == before


@pytest.mark.parametrize("extra_vars", [
    "forwarding_users=vic",
    "forwarding_users=vic,walt",
    '{"forwarding_users": ["vic"]}',
    '{"forwarding_users": "vic, walt"}',
], ids=["single-name", "comma-separated", "json-list", "json-string"])
def test_list_variables_as_people_type_them(target, extra_vars):
    target.root("rm -rf ~vic/.ssh ~vic/.config ~vic/.screenrc ~walt/.ssh/happyssh")
    proc = apply_role(extra_vars)
    assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
    assert target.root("test -f ~vic/.ssh/happyssh/rc && echo ok").strip() == "ok"
    expected_walt = "ok" if "walt" in extra_vars else "none"
    assert target.root("test -f ~walt/.ssh/happyssh/rc && echo ok || echo none").strip() == expected_walt
    again = apply_role(extra_vars)
    assert recap(again)["changed"] == 0, again.stdout[-3000:]


def test_leave_alone_as_a_comma_separated_string(target):
    target.root("rm -rf ~vic/.ssh ~vic/.config ~vic/.screenrc")
    proc = apply_role("forwarding_users=vic", "forwarding_leave_alone=screen,rc")
    assert recap(proc)["failed"] == 0, proc.stdout[-3000:]
    assert target.root("test -e ~vic/.screenrc && echo made || echo none").strip() == "none"
    assert target.root("test -e ~vic/.ssh/rc && echo made || echo none").strip() == "none"
    assert target.root("test -f ~vic/.ssh/happyssh/screenrc && echo ok").strip() == "ok"
    # The role says which line to add where.
    assert "source $HOME/.ssh/happyssh/screenrc" in proc.stdout + proc.stderr


def test_tmux_part_alone_for_dotfile_roles(target):
    """tasks_from: tmux writes the tmux part only, and is idempotent."""
    first = apply_role('{"forwarding_users": ["yara"]}', tasks_from="tmux")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "set-environment -g SSH_AUTH_SOCK" in target.root("cat ~yara/.ssh/happyssh/tmux.conf")
    assert target.root("ls -A ~yara/.ssh ~yara/.ssh/happyssh; test -e ~yara/.screenrc && echo screenrc || true"
                       ).split() == ["/home/yara/.ssh:", "happyssh", "/home/yara/.ssh/happyssh:",
                                     "happyssh-link", "tmux.conf"]
    second = apply_role('{"forwarding_users": ["yara"]}', tasks_from="tmux")
    assert recap(second)["changed"] == 0 and recap(second)["failed"] == 0


def test_prompt_part_alone_for_dotfile_roles(target):
    """tasks_from: prompt writes the prompt hook (and the keeper it calls) only, even with the
    hook's switch off, and is idempotent."""
    target.root("id pia >/dev/null 2>&1 || useradd -m -s /bin/bash pia")
    first = apply_role('{"forwarding_users": ["pia"], "forwarding_prompt_hook": false}', tasks_from="prompt")
    assert recap(first)["failed"] == 0, first.stdout[-3000:]
    assert target.root("ls -A ~pia/.ssh/happyssh").split() == ["happyssh-link", "prompt.sh"]
    assert target.root("test -e ~pia/.ssh/rc || test -e ~pia/.screenrc && echo other || echo none").strip() == "none"
    assert "~/.ssh/happyssh/prompt.sh" in target.root("cat ~pia/.bashrc")
    second = apply_role('{"forwarding_users": ["pia"], "forwarding_prompt_hook": false}', tasks_from="prompt")
    assert recap(second)["changed"] == 0 and recap(second)["failed"] == 0


def test_check_mode_on_a_fresh_account_changes_nothing_and_shows_every_file(target):
    target.root("id cleo >/dev/null 2>&1 || useradd -m -s /bin/bash cleo")
    before = target.root("find ~cleo -printf '%p %m %s\\n' | sort")
    proc = apply_role("forwarding_users=cleo", options=["--check", "--diff"])
    assert recap(proc)["failed"] == 0 and recap(proc)["changed"] == 1, proc.stdout[-3000:]
    for path in (".ssh/happyssh/happyssh-link", ".ssh/happyssh/rc", ".ssh/rc", ".screenrc"):
        assert f"/home/cleo/{path}" in proc.stdout, path
    assert target.root("find ~cleo -printf '%p %m %s\\n' | sort") == before
