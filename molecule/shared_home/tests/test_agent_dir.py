"""OpenSSH >= 10.1 puts every host's forwarded sockets in the shared
~/.ssh/agent, named s.<hostname hash>.sshd.<pid>.<random>: a host must never
link another host's socket (a dead file there, whose pid may be anyone's)."""

import os

import pytest

from two_hosts import hostname_hash, lists_key

USER = "alice"


@pytest.fixture
def shared_agent_dir(hosts):
    """Skip unless both hosts' OpenSSH keep forwarded sockets in ~/.ssh/agent."""
    for host in hosts.values():
        if host.openssh_version() < (10, 1):
            pytest.skip(f"OpenSSH {host.openssh_version()} on {host.label} keeps forwarded sockets in /tmp")
    return f"/home/{USER}/.ssh/agent"


def socket_hash(sock):
    """The hostname hash in a socket's name."""
    name = os.path.basename(sock)
    assert name.startswith("s.") and ".sshd." in name, sock
    return name[len("s."):].split(".", 1)[0]


def test_socket_names_carry_each_hosts_hostname_hash(hosts, agents, shared_agent_dir):
    hashes = {label: hostname_hash(host.hostname()) for label, host in hosts.items()}
    assert hashes["A"] != hashes["B"]
    for label, host in hosts.items():
        with host.session(USER, agents(f"owner-on-{label}")) as session:
            assert os.path.dirname(session.sock) == shared_agent_dir
            assert socket_hash(session.sock) == hashes[label], (label, session.sock, hashes)


def test_other_hosts_sockets_are_never_the_target(hosts, agents, shared_agent_dir):
    host_a, host_b = hosts["A"], hosts["B"]
    hash_a, hash_b = hostname_hash(host_a.hostname()), hostname_hash(host_b.hostname())

    def a_sockets():
        out = host_a.root(f"ls -1 {shared_agent_dir}/s.{hash_a}.* 2>/dev/null || true")
        return set(out.split())

    def b_target(when):
        target = host_b.local_link(USER)
        seen = a_sockets()
        assert target not in seen, f"{when}: B links A's socket {target}"
        assert not os.path.basename(target).startswith(f"s.{hash_a}."), f"{when}: B links A's socket {target}"
        return target

    with host_a.session(USER, agents("owner-on-A")) as on_a:
        assert on_a.sock in a_sockets()
        short_a = agents("short-on-A")
        with host_b.session(USER, agents("owner-on-B")) as on_b:
            assert b_target("B's owner logged in") == on_b.sock
            assert socket_hash(on_b.sock) == hash_b
            host_a.run(USER, "true", agent=short_a)
            assert b_target("a short login on A") == on_b.sock
            # B's owner dies without cleaning up: its socket file stays, stale.
            host_b.root(f"kill -9 {on_b.sshd_pid}")
        assert host_b.root(f"test -S {on_b.sock} && echo stale || echo gone").strip() == "stale"
        assert b_target("B's owner killed") in ("", on_b.sock)
        short_b = agents("short-on-B")
        for connection in range(5):
            host_a.run(USER, "true", agent=short_a)
            host_b.run(USER, "true", agent=short_b)
            target = b_target(f"short logins {connection + 1}")
            assert target == "" or socket_hash(target) == hash_b, target
        # While A's owner still lives, a login on B that stays takes B's link.
        later = agents("later-on-B")
        with host_b.session(USER, later, tty=False) as held:
            assert b_target("a held login on B") == held.sock
            assert lists_key(host_b.keys_through_link(USER), later.name)
        assert lists_key(host_a.keys_through_link(USER), "owner-on-A")
