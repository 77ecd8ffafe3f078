# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Agents for the tests and benchmarks, in one place:

- RealAgent: a real ssh-agent on a socket path of our choosing, holding one key whose comment
  is its name (what `ssh-add -l` through a link shows);
- FakeAgent: a socket served by a thread that answers the identities request as told (keys,
  split, hang, garbage, failure, close), for the module's probe;
- stale_socket: the socket file a killed sshd leaves behind (connecting is refused).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time

SSH2_AGENTC_REQUEST_IDENTITIES = 11


def listening(path):
    """True once something accepts connections at path (the file appears before that)."""
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def wait_until(predicate, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s' % what)
        time.sleep(0.005)


class RealAgent:
    """ssh-agent -D on sock, with one ed25519 key named `name` (made in keydir once)."""

    def __init__(self, sock, name, keydir, popen=None):
        self.sock, self.name = sock, name
        spawn = popen or (lambda argv: subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                        stderr=subprocess.DEVNULL, start_new_session=True))
        self.proc = spawn(['ssh-agent', '-D', '-a', sock])
        wait_until(lambda: listening(sock), 'the agent %s to listen' % name)
        key = os.path.join(keydir, name)
        if not os.path.exists(key):
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(['ssh-add', '-q', key], env=dict(os.environ, SSH_AUTH_SOCK=sock),
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def identities_reply(keys):
    """An SSH2_AGENT_IDENTITIES_ANSWER with `keys` made-up identities."""
    body = bytes([12]) + struct.pack('>I', keys)
    for i in range(keys):
        for field in (b'fake-key-blob-%d' % i, b'comment %d' % i):
            body += struct.pack('>I', len(field)) + field
    return struct.pack('>I', len(body)) + body


def accepted(listener, stop):
    """The connections a listener with a timeout accepts, until stop is set or it is closed."""
    while not stop.is_set():
        try:
            conn, dummy = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        yield conn


class FakeAgent:
    """A unix socket served by a thread. mode: keys, split, hang, garbage, failure, close."""

    def __init__(self, path, mode='keys', keys=2):
        self.path, self.mode, self.keys = path, mode, keys
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(16)
        self.server.settimeout(0.05)
        self.done = threading.Event()
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for conn in accepted(self.server, self.done):
            try:
                self._answer(conn)
            except OSError:
                pass
            if self.mode == 'hang':
                self.held.append(conn)
            else:
                conn.close()

    def _answer(self, conn):
        conn.settimeout(2)
        request = conn.recv(5)
        assert request == struct.pack('>IB', 1, SSH2_AGENTC_REQUEST_IDENTITIES)
        if self.mode in ('hang', 'close'):
            return
        if self.mode == 'garbage':
            conn.sendall(b'\x00\x00\x00\x04junk')
        elif self.mode == 'failure':
            conn.sendall(struct.pack('>IB', 1, 5))
        elif self.mode == 'split':
            reply = identities_reply(self.keys)
            for i in range(0, len(reply), 3):
                conn.sendall(reply[i:i + 3])
                time.sleep(0.001)
        else:
            conn.sendall(identities_reply(self.keys))

    def stop(self):
        self.done.set()
        self.server.close()
        self.thread.join(2)
        for conn in self.held:
            conn.close()


def stale_socket(path):
    """Bind and close: the file stays, connecting is refused."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.close()
    return path
