"""happyssh.agent.auth_sock against a real forwarded agent: the owner of the
link disconnects while another connection of the user stays open; the module,
run as that user through become_user, moves the link to the survivor."""

import json
import os
import re
import subprocess

USER = "frank"


def module(*args, check=False):
    argv = ["ansible", "all", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-o",
            "-m", "happyssh.agent.auth_sock", "-b", "--become-user", USER] + list(args)
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout
    assert "=>" in out, proc.stdout + proc.stderr
    return json.loads(out.split("=>", 1)[1])


def test_module_repairs_link_to_surviving_connection(target, agents):
    laptop_a, laptop_b = agents("laptop-A"), agents("laptop-B")
    first = target.session(USER, laptop_a)
    with target.session(USER, laptop_b) as second:
        assert target.link_target(USER) == first.sock
        first.close()
        # The owner is gone; nothing else would repair the link until a new login.
        assert target.link_target(USER) == first.sock

        probe = module(check=True)
        assert probe["changed"] is True and probe["status"] == "repaired"
        assert probe["target"] == second.sock
        assert target.link_target(USER) == first.sock, "check mode changed the link"

        repaired = module()
        assert repaired["changed"] is True and repaired["status"] == "repaired"
        assert repaired["previous_target"] == first.sock
        assert repaired["target"] == second.sock and repaired["alive"] is True
        assert target.link_target(USER) == second.sock
        assert "laptop-B" in target.keys_through_link(USER)

        again = module()
        assert again["changed"] is False and again["status"] == "ok"


def test_repair_playbook_repairs_and_sums_up(target, agents):
    """happyssh.agent.repair: one line per host and user in the fleet summary, the dead link
    repaired, and nothing of Ansible's left in the users' homes."""
    user, idle = "carol", "dave"
    first = target.session(user, agents("laptop-A"))
    with target.session(user, agents("laptop-B")) as second:
        assert target.link_target(user) == first.sock
        first.close()
        proc = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "happyssh.agent.repair",
                               "-e", json.dumps({"forwarding_users": [user, idle]})],
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert target.link_target(user) == second.sock
        assert re.search(rf"\b{user}\s+repaired\s+/tmp/happyssh-{user}/agent\s+{re.escape(second.sock)}", proc.stdout), proc.stdout[-3000:]
        assert re.search(rf"\b{idle}\s+no_live_agent\b", proc.stdout), proc.stdout[-3000:]
        assert "remote_tmp" not in proc.stdout + proc.stderr, proc.stderr
    for name in (user, idle):
        assert target.root(f"test -e ~{name}/.ansible && echo made || echo none").strip() == "none"
