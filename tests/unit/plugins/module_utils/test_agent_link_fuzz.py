# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module's agent client against peers that answer at random (hypothesis).

A peer is a unix socket served by a thread that follows a script drawn by hypothesis: how it
opens (answers, sends without reading the request, never reads nor answers, closes at once,
never accepts, a full backlog, no listener at all), what it sends (a length header of any size,
an agent reply or noise, cut short anywhere, in pieces) and how it ends (closes, hangs, an
endless stream, an endless trickle). Whatever the peer does, a probe:

- returns a Probe (alive True or False, keys only when alive) and never raises;
- ends within its timeout, plus a small slack;
- never reads more than one message of at most AGENT_MAX_LEN bytes and its 4-byte length: the
  bytes the client takes from the socket are counted (agent_link sees sockets that count);
- closes its socket;
- is alive only for a complete identities answer, with the key count the answer gives.

The examples are derandomized and nothing is stored (no .hypothesis directory): every run tries
the same cases, plus the named ones below.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
from collections import namedtuple
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from agents import accepted  # pylint: disable=import-error
from ansible_collections.happyssh.agent.plugins.module_utils import agent_link

MAX = agent_link.AGENT_MAX_LEN
ANSWER = agent_link.SSH2_AGENT_IDENTITIES_ANSWER
FAILURE = agent_link.SSH2_AGENT_FAILURE
# What a probe may take beyond its timeout: thread switches and socket set-up on a busy host.
SLACK = 0.5
JUNK = b'\x00'
# Hypothesis keeps a cache in .hypothesis/ of the working directory, even without a database:
# somewhere else, gone after the run, unless HYPOTHESIS_STORAGE_DIRECTORY says where.
if not os.environ.get('HYPOTHESIS_STORAGE_DIRECTORY'):
    HOME = tempfile.mkdtemp(prefix='happyssh-hypothesis-')
    atexit.register(shutil.rmtree, HOME, True)
    set_hypothesis_home_dir(HOME)
FUZZ = settings(max_examples=150, deadline=3000, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# opening: answer, unread, silent, close, no_accept, backlog, stale.
# data: what the peer sends after opening (answer and unread only).
# pieces: how many sendall calls data is cut into. ending: close, hang, stream, trickle.
Script = namedtuple('Script', ['opening', 'data', 'pieces', 'ending'])


# ---------------------------------------------------------------- what the client reads

class CountingSocket(socket.socket):
    """A socket that counts the bytes it hands to its reader."""

    consumed = 0

    def recv(self, bufsize, *flags):
        data = super().recv(bufsize, *flags)
        self.consumed += len(data)
        return data

    def recv_into(self, buffer, *args):
        count = super().recv_into(buffer, *args)
        self.consumed += count
        return count


class CountingSocketModule:
    """The socket module as agent_link sees it here: as usual, but its sockets count."""

    def __init__(self):
        self.made = []

    def socket(self, *args, **kwargs):
        sock = CountingSocket(*args, **kwargs)
        self.made.append(sock)
        return sock

    def __getattr__(self, name):
        return getattr(socket, name)


# ---------------------------------------------------------------- the peer

class Peer:
    """A unix socket at path whose one connection follows a Script."""

    def __init__(self, path, script):
        self.script = script
        self.stop = threading.Event()
        self.conns = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        if script.opening == 'stale':
            self.listener.close()
            self.thread = None
            return
        self.listener.listen(0 if script.opening == 'backlog' else 4)
        if script.opening == 'backlog':
            # One connection waiting to be accepted fills a backlog of 0: the next is refused.
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(path)
            self.conns.append(filler)
        self.listener.settimeout(0.01)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _accept(self):
        for conn in accepted(self.listener, self.stop):
            self.conns.append(conn)
            conn.settimeout(0.05)
            return conn
        return None

    def _serve(self):
        if self.script.opening in ('no_accept', 'backlog'):
            self.stop.wait()
            return
        conn = self._accept()
        if conn is None:
            return
        try:
            self._follow(conn)
        except OSError:
            pass  # the client went away: what a real agent sees too
        if self.script.ending != 'hang':
            conn.close()
        self.stop.wait()

    def _follow(self, conn):
        opening = self.script.opening
        if opening == 'close':
            return
        if opening == 'silent':
            self.stop.wait()
            return
        if opening == 'answer':
            self._read_request(conn)
        self._send(conn, self.script.data)
        ending = self.script.ending
        if ending == 'stream':
            block = JUNK * 65536
            while not self.stop.is_set():
                self._send(conn, block)
        elif ending == 'trickle':
            while not self.stop.is_set():
                self._send(conn, JUNK)
                time.sleep(0.002)

    def _read_request(self, conn):
        request = b''
        deadline = time.monotonic() + 1
        while len(request) < len(agent_link.IDENTITIES_REQUEST) and time.monotonic() < deadline:
            try:
                chunk = conn.recv(5 - len(request))
            except socket.timeout:
                continue
            if not chunk:
                break
            request += chunk

    def _send(self, conn, data):
        step = max(1, -(-len(data) // self.script.pieces)) if data else 1
        for start in range(0, len(data), step):
            view = memoryview(data)[start:start + step]
            while view and not self.stop.is_set():
                try:
                    sent = conn.send(view)
                except socket.timeout:
                    continue
                view = view[sent:]

    def close(self):
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)
            assert not self.thread.is_alive(), 'the peer thread did not stop'
        for conn in self.conns:
            conn.close()
        self.listener.close()


# ---------------------------------------------------------------- what a probe must say

def parse_rule(body):
    """The answer rule, spelled out: type 12, a key count, room for that many empty identities."""
    if len(body) >= 5 and body[0] == ANSWER:
        keys = struct.unpack('>I', body[1:5])[0]
        if 8 * keys <= len(body) - 5:
            return keys
    return None


class Expectation:
    """What the stream a script sends allows a probe to say.

    message: bytes of the one message a probe may read (its length header and body, at most
    AGENT_MAX_LEN + 4), read from what the peer sends, the endless junk included.
    complete: the message is whole within the data sent at once, and the peer does not close
    before it has read the request (the client's request would meet a closed socket).
    keys: the key count of an identities answer in that message, else None.
    """

    def __init__(self, script):
        self.message, self.complete, self.keys = b'', False, None
        if script.opening not in ('answer', 'unread'):
            return
        endless = script.ending in ('stream', 'trickle')

        def take(count):
            data = script.data[:count]
            return data + JUNK * (count - len(data)) if endless else data

        head = take(4)
        length = struct.unpack('>I', head)[0] if len(head) == 4 else 0
        if not 1 <= length <= MAX:
            self.message = head
            return
        self.message = take(4 + length)
        self.complete = len(script.data) >= 4 + length and (script.opening, script.ending) != ('unread', 'close')
        if len(self.message) == 4 + length:
            self.keys = parse_rule(self.message[4:])


def run_probe(script, timeout):
    """Probe a peer following script; returns (probe, elapsed seconds, bytes read, sockets made)."""
    top = tempfile.mkdtemp(prefix='hsfz')
    path = os.path.join(top, 'agent.1')
    peer = Peer(path, script)
    sockets = CountingSocketModule()
    outcome = {}

    def probe():
        started = time.monotonic()
        try:
            outcome['probe'] = agent_link.probe_agent(path, timeout)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            outcome['raised'] = exc
        outcome['elapsed'] = time.monotonic() - started

    try:
        with mock.patch.object(agent_link, 'socket', sockets):
            worker = threading.Thread(target=probe, daemon=True)
            worker.start()
            worker.join(timeout + SLACK + 5)
            finished = not worker.is_alive()
            peer.stop.set()  # ends an endless stream, so an unbounded probe comes back
            worker.join(30)
    finally:
        peer.close()
        shutil.rmtree(top, ignore_errors=True)
    read = sum(sock.consumed for sock in sockets.made)
    assert finished, 'the probe was still running %.1f s after its %.2f s timeout (%d bytes read)' % (
        SLACK + 5, timeout, read)
    assert 'raised' not in outcome, 'probe_agent raised %r' % outcome.get('raised')
    return outcome['probe'], outcome['elapsed'], read, sockets.made


def check_probe(script, timeout):
    probe, elapsed, read, made = run_probe(script, timeout)
    expected = Expectation(script)
    assert isinstance(probe, agent_link.Probe)
    assert probe.alive in (True, False)
    assert elapsed <= timeout + SLACK, 'took %.3f s for a %.2f s timeout' % (elapsed, timeout)
    assert read <= MAX + 4, 'read %d bytes, more than one message of the protocol maximum' % read
    assert read <= len(expected.message), 'read %d bytes past the %d of the one message' % (
        read, len(expected.message))
    assert len(made) == 1 and made[0].fileno() == -1, 'the probe left its socket open'
    if probe.alive:
        assert probe.reason is None
        assert expected.keys is not None, 'alive on a reply that is no identities answer: %r' % (
            expected.message[:64],)
        assert probe.keys == expected.keys
    else:
        assert probe.keys is None
        assert isinstance(probe.reason, str) and probe.reason
        # A whole answer sent at once is alive, unless the host was too slow for the timeout.
        assert not (expected.complete and expected.keys is not None) or probe.reason == 'timeout', probe
    return probe


# ---------------------------------------------------------------- strategies

def header(length):
    return struct.pack('>I', length)


@st.composite
def bodies(draw):
    """An agent reply body: an identities answer (true or lying about its count), a failure,
    or any other type; a few bytes of payload or a long run of one byte."""
    kind = draw(st.sampled_from([ANSWER, FAILURE]) | st.integers(0, 255))
    keys = draw(st.integers(0, 4) | st.sampled_from([2 ** 31, 2 ** 32 - 1]) | st.integers(0, 2 ** 32 - 1))
    payload = draw(st.binary(max_size=48) | st.builds(lambda byte, count: bytes([byte]) * count,
                                                      st.integers(0, 255), st.sampled_from([8, 4096, MAX])))
    return bytes([kind]) + struct.pack('>I', keys) + payload


@st.composite
def replies(draw):
    """Length header and body as sent: the length true or any 32-bit number, cut anywhere."""
    body = draw(bodies())
    length = draw(st.just(len(body)) | st.sampled_from([0, 1, 4, 5, MAX - 1, MAX, MAX + 1, 2 ** 31, 2 ** 32 - 1])
                  | st.integers(0, 2 ** 32 - 1))
    data = header(length) + body
    cut = draw(st.none() | st.integers(0, len(data)))
    return data if cut is None else data[:cut]


scripts = st.builds(
    Script,
    opening=st.sampled_from(['answer', 'answer', 'answer', 'unread', 'silent', 'close', 'no_accept', 'backlog',
                             'stale']),
    data=replies() | st.binary(max_size=16),
    pieces=st.integers(1, 4),
    ending=st.sampled_from(['close', 'hang', 'stream', 'trickle']),
)
timeouts = st.sampled_from([0.02, 0.05, 0.1])


# ---------------------------------------------------------------- the probe

@FUZZ
@given(script=scripts, timeout=timeouts)
# The cases named in issue 12, whatever hypothesis draws besides.
@example(script=Script('answer', header(0), 1, 'stream'), timeout=0.05)
@example(script=Script('answer', header(2 ** 32 - 1), 1, 'stream'), timeout=0.05)
@example(script=Script('answer', header(MAX + 1) + b'\x0c', 1, 'stream'), timeout=0.05)
@example(script=Script('answer', header(MAX), 1, 'stream'), timeout=0.1)
@example(script=Script('answer', header(MAX) + b'\x0c', 1, 'trickle'), timeout=0.05)
@example(script=Script('answer', header(9) + b'\x0c\x00\x00', 2, 'hang'), timeout=0.05)
@example(script=Script('answer', header(9) + b'\x0c\x00\x00', 2, 'close'), timeout=0.05)
@example(script=Script('answer', b'\x00\x00', 1, 'close'), timeout=0.05)
@example(script=Script('answer', b'', 1, 'trickle'), timeout=0.05)
@example(script=Script('unread', header(5) + b'\x0c\x00\x00\x00\x00', 1, 'hang'), timeout=0.1)
@example(script=Script('silent', b'', 1, 'hang'), timeout=0.05)
@example(script=Script('close', b'', 1, 'close'), timeout=0.05)
@example(script=Script('no_accept', b'', 1, 'hang'), timeout=0.05)
@example(script=Script('backlog', b'', 1, 'hang'), timeout=0.05)
@example(script=Script('stale', b'', 1, 'close'), timeout=0.05)
def test_probe_ends_in_time_and_reads_one_bounded_message(script, timeout):
    check_probe(script, timeout)


@FUZZ
@given(keys=st.integers(0, 6), extra=st.integers(0, 64), pieces=st.integers(1, 6),
       opening=st.sampled_from(['answer', 'unread']), ending=st.sampled_from(['close', 'hang', 'stream', 'trickle']))
def test_probe_whole_answer_is_alive(keys, extra, pieces, opening, ending):
    """A whole identities answer, in pieces, whatever follows it: alive, with its key count."""
    # A peer that closes without reading the request may close before the client sent it.
    assume((opening, ending) != ('unread', 'close'))
    body = bytes([ANSWER]) + struct.pack('>I', keys) + b'\x00\x00\x00\x00' * (2 * keys) + b'x' * extra
    probe = check_probe(Script(opening, header(len(body)) + body, pieces, ending), 2.0)
    assert probe == agent_link.Probe(True, keys, None)


@pytest.mark.parametrize('length', [0, MAX + 1, 2 ** 32 - 1])
def test_probe_refuses_length_out_of_bounds_after_reading_its_header(length):
    probe = check_probe(Script('answer', header(length) + b'\x0c' * 64, 1, 'stream'), 0.5)
    assert probe == agent_link.Probe(False, None, 'garbage reply')


def test_probe_of_largest_message_reads_all_of_it():
    body = bytes([ANSWER]) + struct.pack('>I', 1) + b'\x00' * (MAX - 5)
    probe, dummy, read, dummy = run_probe(Script('answer', header(MAX) + body, 3, 'stream'), 2.0)
    assert probe == agent_link.Probe(True, 1, None)
    assert read == MAX + 4


# ---------------------------------------------------------------- recv_exact and parse_identities

def drain(sock):
    """What is left unread in sock (the other end is done sending)."""
    sock.setblocking(False)
    left = b''
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return left
        if not chunk:
            return left
        left += chunk


@FUZZ
@given(data=st.binary(max_size=4096), size=st.integers(0, 4200) | st.sampled_from([MAX, MAX + 4, 2 ** 31]),
       closed=st.booleans())
def test_recv_exact_reads_exactly_size(data, size, closed):
    here, there = socket.socketpair()
    # What recv_exact must not need: without its deadline, a read would end here, not hang.
    here.settimeout(2 * SLACK)
    try:
        there.sendall(data)
        if closed:
            there.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        try:
            got = agent_link.recv_exact(here, size, started + 0.02)
            outcome = 'read'
        except EOFError:
            outcome = 'eof'
        except socket.timeout:
            outcome = 'timeout'
        elapsed = time.monotonic() - started
        assert elapsed <= 0.02 + SLACK
        if len(data) >= size:
            assert outcome == 'read' and got == data[:size]
        else:
            assert outcome == ('eof' if closed else 'timeout')
        if closed:
            assert drain(here) == data[size:]
    finally:
        here.close()
        there.close()


def test_recv_exact_past_deadline_reads_nothing():
    here, there = socket.socketpair()
    try:
        there.sendall(b'\x00' * 16)
        with pytest.raises(socket.timeout):
            agent_link.recv_exact(here, 4, time.monotonic() - 1)
        there.shutdown(socket.SHUT_WR)
        assert drain(here) == b'\x00' * 16
    finally:
        here.close()
        there.close()


@FUZZ
@given(body=bodies() | st.binary(min_size=1, max_size=64))
def test_parse_identities_never_raises(body):
    """probe_agent hands it a body of 1 to AGENT_MAX_LEN bytes (a length of 0 is refused before)."""
    probe = agent_link.parse_identities(body)
    assert isinstance(probe, agent_link.Probe)
    keys = parse_rule(body)
    if keys is None:
        assert probe.alive is False and probe.keys is None
        assert probe.reason == ('agent failure' if body[0] == FAILURE else 'garbage reply')
    else:
        assert probe == agent_link.Probe(True, keys, None)
