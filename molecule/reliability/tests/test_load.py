"""Load: many short forwarded connections while a long-lived interactive
owner is connected, with a reader polling the link throughout; and a churn of
interactive owners opening and closing in overlapping pairs."""

import json
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

CONNECTIONS = int(os.environ.get("HAPPYSSH_LOAD_CONNECTIONS", "200"))
PARALLEL = 20

# Runs on the host as the user: lstat the link and ask its agent for
# identities, as fast as it can, until told to stop.
READER = r'''
import json, os, socket, struct, sys, time
link = os.path.expanduser("~/.ssh/ssh_auth_sock")
stop = link + ".stop-reader"
samples = missing = dead = 0
print("ready", flush=True)
while not os.path.exists(stop):
    samples += 1
    try:
        os.lstat(link)
    except FileNotFoundError:
        missing += 1
        continue
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(link)
        s.sendall(struct.pack(">IB", 1, 11))
        if s.recv(5)[4:5] != b"\x0c":
            dead += 1
        s.close()
    except OSError:
        dead += 1
    time.sleep(0.002)
os.unlink(stop)
print(json.dumps({"samples": samples, "missing": missing, "dead": dead}), flush=True)
'''


def timed_connection(target, user, agent):
    start = time.monotonic()
    proc = target.run(user, "true", agent=agent, check=False)
    return user, proc.returncode, time.monotonic() - start


def test_short_connections_under_load(target, agents, figures):
    laptop, rsync = agents("laptop"), agents("rsync")
    with target.session("lena", laptop) as owner:
        reader = subprocess.Popen(target.argv("lena", f"python3 -c '{READER}'"), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, text=True)
        assert reader.stdout.readline().strip() == "ready"
        # Interleave the loaded account with one that has no rc, for the cost.
        users = ["lena", "vera"] * CONNECTIONS
        with ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(lambda user: timed_connection(target, user, rsync), users))
        target.run("lena", "touch ~/.ssh/ssh_auth_sock.stop-reader")
        polled = json.loads(reader.stdout.readline())
        reader.wait(timeout=30)
        owner_alive = owner.proc.poll() is None
        link_after = target.link_target("lena")

    with_rc = [seconds for user, _rc, seconds in results if user == "lena"]
    without_rc = [seconds for user, _rc, seconds in results if user == "vera"]
    figures["load"] = {
        "connections": CONNECTIONS, "parallel": PARALLEL, "reader_samples": polled["samples"],
        "link_missing": polled["missing"], "link_dead_while_owner_lived": polled["dead"],
        "failed_connections": sum(1 for user, rc, _s in results if user == "lena" and rc != 0),
        "median_ms_with_rc": round(statistics.median(with_rc) * 1000, 1),
        "median_ms_without_rc": round(statistics.median(without_rc) * 1000, 1),
    }
    assert owner_alive
    assert link_after == owner.sock
    assert polled["samples"] > 100
    assert figures["load"]["link_missing"] == 0
    assert figures["load"]["link_dead_while_owner_lived"] == 0
    assert figures["load"]["failed_connections"] == 0


def test_churn_of_interactive_owners(target, agents, figures):
    user = "mia"
    laptops = [agents("laptop-1"), agents("laptop-2")]
    short = agents("git")
    late = 0
    previous = target.session(user, laptops[0])
    for i in range(50):
        following = target.session(user, laptops[(i + 1) % 2])
        previous.close()
        # One new, short connection after the owner left must find a live agent.
        target.run(user, "true", agent=short)
        if "laptop-" not in target.keys_through_link(user):
            late += 1
        previous = following
    previous.close()
    figures["churn"] = {"owners": 50, "closes_not_repaired_by_next_connection": late}
    assert late == 0
