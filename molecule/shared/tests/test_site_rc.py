"""A site's /etc/ssh/sshrc keeps running for a user whose ~/.ssh/rc the role made: sshd skips
it then (sshd(8)), so the user's rc part runs it as sshd would have, X11 cookie on stdin, and
leaves the xauth to it. Real sshd, real `ssh -Y`, real xauth (counted by a wrapper first in PATH).
Both files are removed afterwards, so the other tests see the host as before."""

import pytest

USER = "erin"
SITE_RC = r"""{ printf 'run\n'; cat; } >>"$HOME/site-rc.log"
"""
# The site's own X11 duty, as sshd(8) describes it, after its record of the run.
SITE_RC_XAUTH = r"""printf 'run\n' >>"$HOME/site-rc.log"
if read -r proto cookie; then
  printf '%s %s\n' "$proto" "$cookie" >>"$HOME/site-rc.log"
  if [ -n "$DISPLAY" ]; then
    case $DISPLAY in
      localhost:*) echo "add unix:${DISPLAY#localhost:} $proto $cookie" ;;
      *) echo "add $DISPLAY $proto $cookie" ;;
    esac | xauth -q -
  fi
fi
"""
WRAPPER = r"""#!/bin/sh
# test wrapper: every xauth call's commands, then the real xauth
tee -a "$HOME/xauth-calls.log" | /usr/bin/xauth "$@"
"""


def put(target, path, text, mode):
    target.root(f"cat >{path} <<'HAPPYSSH_EOF'\n{text}HAPPYSSH_EOF\nchmod {mode} {path}")


@pytest.fixture
def site(target):
    if target.root("test -e /etc/ssh/sshrc && echo yes || true").strip():
        pytest.skip("the image has an /etc/ssh/sshrc of its own")
    put(target, "/usr/local/bin/xauth", WRAPPER, "0755")

    def install(text):
        put(target, "/etc/ssh/sshrc", text, "0644")
        target.root(f"rm -f /home/{USER}/site-rc.log /home/{USER}/xauth-calls.log /home/{USER}/.Xauthority")
    try:
        yield install
    finally:
        target.root(f"rm -f /etc/ssh/sshrc /usr/local/bin/xauth /home/{USER}/site-rc.log /home/{USER}/xauth-calls.log")


def read(target, name):
    return target.root(f"cat /home/{USER}/{name} 2>/dev/null || true")


def test_site_rc_runs_once_without_x11(target, site, agents):
    site(SITE_RC)
    assert target.root(f"test -f /home/{USER}/.ssh/rc && echo yes").strip() == "yes"
    target.run(USER, "true", agent=agents("laptop"))
    assert read(target, "site-rc.log") == "run\n"
    assert read(target, "xauth-calls.log") == ""


def test_site_rc_gets_the_cookie_and_xauth_gets_it_once(target, site):
    site(SITE_RC_XAUTH)
    proc = target.run(USER, "echo DISPLAY=$DISPLAY; xauth list", x11=True, env={"DISPLAY": ":99"})
    out = proc.stdout.decode()
    display = out.splitlines()[0].split("=", 1)[1]
    assert display.startswith("localhost:"), out
    screen = display.split(":", 1)[1]
    number = screen.split(".")[0]
    log = read(target, "site-rc.log").splitlines()
    assert log[0] == "run" and log.count("run") == 1, log
    proto, cookie = log[1].split()
    assert proto == "MIT-MAGIC-COOKIE-1" and len(cookie) == 32, log
    # One xauth call with the cookie: the site's. The rc part added nothing of its own.
    calls = [line for line in read(target, "xauth-calls.log").splitlines() if line.startswith("add ")]
    assert calls == [f"add unix:{screen} {proto} {cookie}"], calls
    assert f"unix:{number}" in out, out


def test_short_connection_decides_on_the_hot_path(target, agents):
    """With a live interactive owner, a short connection is decided in ~/.ssh/happyssh/rc: the
    keeper is never read (a marker line put in front of it, as root, is never run), which rests
    on the owner's sshd being named sshd* in /proc/<pid>/comm (sshd, or sshd-session from 9.8)."""
    keeper = f"/home/{USER}/.ssh/happyssh/happyssh-link"
    marker = f"/home/{USER}/keeper-read"
    with target.session(USER, agents("desk")) as owner:
        assert target.link_target(USER) == owner.sock
        assert target.root(f"cat /proc/{owner.sshd_pid}/comm").startswith("sshd")
        target.root(f"cp -p {keeper} {keeper}.orig && {{ echo ': >{marker}'; cat {keeper}.orig; }} >{keeper}")
        try:
            for _attempt in range(3):
                target.run(USER, "true", agent=agents("ci"))
            assert target.root(f"test -e {marker} && echo read || echo never").strip() == "never"
            assert target.link_target(USER) == owner.sock
        finally:
            target.root(f"mv -f {keeper}.orig {keeper}; rm -f {marker}")
