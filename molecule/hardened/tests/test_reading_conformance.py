"""The reading without root held against the image's own sshd -T -C (OpenSSH 8.4 to 10.6): for each
config and account the values the files give are the values sshd gives."""

import base64
import json
import os

import pytest

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "plugins", "module_utils",
                      "sshd_settings.py")
# Run on the host as root: sshd -T -C per account, and the same reading forwarding_info makes without root.
COMPARE = """
import json, subprocess, sys
sys.path.insert(0, '/tmp/hs-conformance')
import sshd_settings as ss
path, users = sys.argv[1], sys.argv[2].split(',')
config = ss.read_config(path)
out = {}
for user in users:
    real = subprocess.run(['/usr/sbin/sshd', '-T', '-f', path, '-C', ss.connection_spec(user, 'box')],
                          capture_output=True, text=True, check=True).stdout
    mine = ss.evaluate(config, ss.connection_for(user, config, 'box'))
    out[user] = [ss.parse_sshd_t(real), dict((k, v['value']) for k, v in mine.items())]
print(json.dumps(out))
"""
CASES = [
    ("AllowAgentForwarding no\nMatch User bob\n  AllowAgentForwarding yes\n", "alice,bob"),
    ("Match User *,!alice\n  X11Forwarding no\nMatch all\n  PermitUserRC no\n", "alice,bob,carol"),
    ("Match Group carol,!alice\n  DisableForwarding yes\nMatch Group alice\n  ForceCommand /bin/true\n",
     "alice,bob,carol"),
    ("Match Address 10.0.0.0/8\n  AllowAgentForwarding no\nMatch Address 127.0.0.0/8,!10.0.0.1 User b*\n"
     "  X11Forwarding yes\n", "alice,bob"),
    ("Include hs-conformance.d/*.conf\nAllowAgentForwarding yes\nMatch User carol\n  Include hs-carol.conf\n",
     "alice,bob,carol"),
]


@pytest.fixture(scope="module")
def installed(target):
    code = base64.b64encode(open(SOURCE, "rb").read()).decode()
    target.root("mkdir -p /tmp/hs-conformance /etc/ssh/hs-conformance.d"
                f" && echo {code} | base64 -d > /tmp/hs-conformance/sshd_settings.py"
                " && printf 'AllowAgentForwarding no\\n' > /etc/ssh/hs-conformance.d/20-b.conf"
                " && printf 'Match User bob\\n  PermitUserRC no\\n' > /etc/ssh/hs-conformance.d/10-a.conf"
                " && printf 'X11Forwarding no\\n' > /etc/ssh/hs-carol.conf")
    yield
    target.root("rm -rf /tmp/hs-conformance /etc/ssh/hs-conformance.d /etc/ssh/hs-carol.conf /tmp/hs-case")


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("text,users", CASES)
def test_files_read_as_sshd_reads_them(target, text, users):
    case = base64.b64encode(text.encode()).decode()
    script = base64.b64encode(COMPARE.encode()).decode()
    out = target.root(f"echo {case} | base64 -d > /tmp/hs-case && echo {script} | base64 -d > /tmp/hs-conformance/c.py"
                      f" && python3 /tmp/hs-conformance/c.py /tmp/hs-case {users}")
    for user, (real, mine) in json.loads(out).items():
        assert mine == real, (user, text)
