"""Locks on hosts that share the home: pids only mean something on the host
that made them, so one host's lock is neither broken by the other nor able to
hold the other's logins up. Outcomes only, never timings."""

from two_hosts import LOCAL, STABLE, lists_key, wait_for

USER = "alice"


def test_live_lock_on_one_host_is_not_broken_from_the_other(hosts, agents):
    host_a, host_b = hosts["A"], hosts["B"]
    local = LOCAL.format(user=USER)
    lock = f"{local}/agent.lock"
    holder = host_a.start_sleep(USER)
    try:
        # On A, a live process of A holds A's lock.
        host_a.run(USER, f"mkdir -p {local} && chmod 700 {local} && ln -sfn {holder} {lock}")
        owner_agent, short_agent = agents("owner-on-B"), agents("short-on-B")
        with host_b.session(USER, owner_agent) as owner:
            assert host_b.resolved_link(USER) == owner.sock
            assert lists_key(host_b.keys_through_link(USER), owner_agent.name)
            for _connection in range(3):
                proc = host_b.run(USER, "printf x", agent=short_agent)
                assert (proc.stdout, proc.stderr) == (b"x", b"")
            assert host_b.resolved_link(USER) == owner.sock
            assert lists_key(host_b.keys_through_link(USER), owner_agent.name)
        # A's lock is untouched: still there, still naming its holder, which still runs.
        assert host_a.root(f"readlink {lock} || echo missing").strip() == str(holder)
        assert host_a.alive(holder)
    finally:
        host_a.kill(holder)
        host_a.root(f"rm -f {lock}")


def test_lock_in_the_old_shared_place_does_not_hold_up_the_other_host(hosts, agents):
    """A lock left in the shared home (where the link's lock used to be) names a
    pid of another host's; here that pid runs, and still B's logins take and
    keep the link."""
    host_a, host_b = hosts["A"], hosts["B"]
    old_lock = STABLE.format(user=USER) + ".lock"
    alive_on_b = host_b.start_sleep(USER)
    try:
        host_a.run(USER, f"ln -sfn {alive_on_b} {old_lock}")
        owner_agent, short_agent = agents("owner-on-B"), agents("short-on-B")
        with host_b.session(USER, owner_agent) as owner:
            assert host_b.resolved_link(USER) == owner.sock
            assert lists_key(host_b.keys_through_link(USER), owner_agent.name)
            for _connection in range(3):
                proc = host_b.run(USER, "printf x", agent=short_agent)
                assert (proc.stdout, proc.stderr) == (b"x", b"")
            assert host_b.resolved_link(USER) == owner.sock
            assert lists_key(host_b.keys_through_link(USER), owner_agent.name)
        # After the owner left, a new login takes the link again.
        assert wait_for(lambda: not host_b.exists(owner.sock)), f"{owner.sock} still on B"
        later_agent = agents("later-on-B")
        with host_b.session(USER, later_agent) as later:
            assert host_b.resolved_link(USER) == later.sock
            assert lists_key(host_b.keys_through_link(USER), later_agent.name)
    finally:
        host_b.kill(alive_on_b)
        host_a.root(f"rm -f {old_lock}")
