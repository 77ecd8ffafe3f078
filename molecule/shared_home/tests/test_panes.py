"""tmux panes on hosts that share the home: logins on the other host never take
a host's panes away from its own agent, and a host's reconnect moves only its
own panes."""

import pytest

from two_hosts import lists_key, wait_for

USER = "alice"


@pytest.mark.parametrize("home, away", [("A", "B"), ("B", "A")], ids=["pane-on-A", "pane-on-B"])
def test_pane_keeps_its_agent_through_the_other_hosts_logins(hosts, agents, home, away):
    here, there = hosts[home], hosts[away]
    owner_agent = agents(f"owner-on-{home}")
    short_agent, visit_agent = agents(f"short-on-{away}"), agents(f"visit-on-{away}")
    with here.session_with_tmux(USER, owner_agent, "work") as owner:
        assert here.resolved_link(USER) == owner.sock
        assert lists_key(here.pane_keys(USER, "work:0.0"), owner_agent.name)
        # Short `ssh -A` connections to the other host, from another laptop agent.
        for connection in range(10):
            there.run(USER, "true", agent=short_agent)
            assert here.resolved_link(USER) == owner.sock, f"after short connection {connection + 1} to {away}"
        for pane in ("work:0.0", "work:1.0"):
            answer = here.pane_keys(USER, pane)
            assert lists_key(answer, owner_agent.name), f"{pane} on {home} after 10 connections to {away}: {answer!r}"
        # An interactive connection to the other host, held open.
        with there.session(USER, visit_agent) as visit:
            assert there.resolved_link(USER) == visit.sock
            assert lists_key(there.keys_through_link(USER), visit_agent.name)
            assert here.resolved_link(USER) == owner.sock
            for pane in ("work:0.0", "work:1.0"):
                answer = here.pane_keys(USER, pane)
                assert lists_key(answer, owner_agent.name), f"{pane} on {home} during a login on {away}: {answer!r}"


def test_reconnect_on_one_host_moves_only_its_own_panes(hosts, agents):
    host_a, host_b = hosts["A"], hosts["B"]
    first, second, on_b = agents("first-on-A"), agents("second-on-A"), agents("owner-on-B")
    owner_a = host_a.session_with_tmux(USER, first, "alpha")
    try:
        with host_b.session_with_tmux(USER, on_b, "beta") as owner_b:
            assert lists_key(host_a.pane_keys(USER, "alpha:0.0"), first.name)
            assert lists_key(host_b.pane_keys(USER, "beta:0.0"), on_b.name)
            # A's owner logs out; its socket goes with it.
            owner_a.close()
            assert wait_for(lambda: not host_a.exists(owner_a.sock)), f"{owner_a.sock} still on A"
            with host_a.session(USER, second) as again:
                assert host_a.resolved_link(USER) == again.sock
                for pane in ("alpha:0.0", "alpha:1.0"):
                    answer = host_a.pane_keys(USER, pane)
                    assert lists_key(answer, second.name), f"{pane} on A after the reconnect: {answer!r}"
                assert host_b.resolved_link(USER) == owner_b.sock
                for pane in ("beta:0.0", "beta:1.0"):
                    answer = host_b.pane_keys(USER, pane)
                    assert lists_key(answer, on_b.name), f"{pane} on B after A's reconnect: {answer!r}"
    finally:
        owner_a.close()


def test_stable_link_resolves_into_each_hosts_own_directory(hosts, agents):
    """The stable path is the same symlink for every host (the home is shared);
    each host resolves it into its own private /tmp/happyssh-<user>."""
    user = "bob"
    with hosts["A"].session(user, agents("bob-on-A")) as on_a, hosts["B"].session(user, agents("bob-on-B")) as on_b:
        for host, session in ((hosts["A"], on_a), (hosts["B"], on_b)):
            assert host.stable_link(user) == f"/tmp/happyssh-{user}/agent", host
            assert host.root(f"stat -c '%a %U' /tmp/happyssh-{user}").split() == ["700", user], host
            assert host.local_link(user) == session.sock, host
            assert lists_key(host.keys_through_link(user), f"bob-on-{host.label}"), host
