"""Another local user plants a world-connectable fake agent where OpenSSH puts
forwarded sockets, named after a live interactive sshd of the victim. Neither
the rc nor the module may ever link it."""

import pytest

from test_auth_sock import module

VICTIM = "frank"


@pytest.fixture
def planted(target, agents):
    laptop = agents("laptop")
    with target.session(VICTIM, laptop) as victim:
        pid = victim.sshd_pid
        sock = f"/tmp/ssh-planted{pid}/agent.{pid}"
        target.root(f"rm -rf /tmp/ssh-planted{pid}; install -d -o bob -m 755 /tmp/ssh-planted{pid} && "
                    f"su bob -c 'ssh-agent -a {sock} >/dev/null' && chmod 777 {sock}")
        yield victim, sock
    target.root(f"pkill -u bob ssh-agent; rm -rf /tmp/ssh-planted{pid}")


def test_rc_never_links_another_users_agent(target, agents, planted):
    victim, sock = planted
    # The victim's link owner goes away; a short connection arrives.
    target.root(f"ln -sfn /tmp/ssh-gone/agent.1 /tmp/happyssh-{VICTIM}/agent; "
                f"rm -f /tmp/happyssh-{VICTIM}/agent.owner")
    with target.session(VICTIM, agents("rsync"), tty=False) as short:
        link = target.link_target(VICTIM)
        assert link != sock
        assert link in (victim.sock, short.sock)


def test_module_never_links_another_users_agent(target, planted):
    victim, sock = planted
    target.root(f"ln -sfn {sock} /tmp/happyssh-{VICTIM}/agent")
    result = module()
    assert result["previous_target"] == sock
    assert result["status"] == "repaired" and result["target"] == victim.sock
    assert target.link_target(VICTIM) == victim.sock
    planted_entry = [c for c in result["candidates"] if c["path"] == sock]
    assert planted_entry and "owned" in planted_entry[0]["reason"], result["candidates"]


def test_prompt_hook_never_links_another_users_agent(target, planted):
    victim, sock = planted
    target.root(f"ln -sfn /tmp/ssh-gone/agent.1 /tmp/happyssh-{VICTIM}/agent")
    target.run(VICTIM, "/bin/sh ~/.ssh/happyssh/happyssh-link prompt")
    assert target.link_target(VICTIM) == victim.sock
