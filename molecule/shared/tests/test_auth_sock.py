"""happyssh.agent.auth_sock against a real forwarded agent: the owner of the
link disconnects while another connection of the user stays open; the module,
run as that user through become_user, moves the link to the survivor."""

import json
import os
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
