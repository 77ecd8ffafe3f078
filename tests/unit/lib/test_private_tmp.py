# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The private /tmp of the rc tests and the benchmarks (tests/lib/private-tmp), from any checkout.

As root, with unshare(1) working, the shells of the tests run with our directory as /tmp
wherever the checkout is (under /tmp too): the host's /tmp is out of sight, what the run needs
from it (the checkout, the venv, any --keep path) stays at its path, and removing the work
directory never reaches into a kept path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from homes import ROOT  # pylint: disable=import-error
PRIVATE_TMP = os.path.join(ROOT, 'tests', 'lib', 'private-tmp')


def _unshare_works():
    if os.geteuid() != 0 or shutil.which('unshare') is None:
        return False
    return subprocess.run(['unshare', '-m', '--propagation', 'private', 'true'], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0


needs_unshare = pytest.mark.skipif(not _unshare_works(), reason='a mount namespace needs root and unshare(1)')


@pytest.fixture
def work():
    """A work directory (outside /tmp, as the script wants it) and a directory under /tmp to keep."""
    base = tempfile.mkdtemp(prefix='happyssh-ptmp-', dir='/var/tmp')
    kept = tempfile.mkdtemp(prefix='happyssh-ptmp-kept-', dir='/tmp')
    try:
        for name in ('one', 'two'):
            os.mkdir(os.path.join(base, name))
            with open(os.path.join(base, name, 'mark-' + name), 'w'):
                pass
        with open(os.path.join(kept, 'precious'), 'w') as handle:
            handle.write('kept\n')
        yield base, kept
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(kept, ignore_errors=True)


@needs_unshare
def test_rc_shells_get_the_private_tmp(env):
    """Whatever the checkout's place: the shells see our /tmp, not the host's, and the checkout."""
    assert env.namespaced, 'root with unshare, and the rc tests fall back to the host /tmp'
    fd, host_mark = tempfile.mkstemp(prefix='happyssh-host-mark-', dir='/tmp')
    os.close(fd)
    try:
        with open(os.path.join(env.tmp, 'happyssh-private-mark'), 'w'):
            pass
        script = ('test -e /tmp/happyssh-private-mark && test ! -e "$0" && test -f "$1/tests/lib/private-tmp" '
                  '&& test -d "$2"')
        result = subprocess.run(env._wrap(['/bin/sh', '-c', script, host_mark, ROOT, sys.prefix]),
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=20, check=False, cwd=env.home)
        assert result.returncode == 0, result.stderr
    finally:
        os.unlink(host_mark)
        os.unlink(os.path.join(env.tmp, 'happyssh-private-mark'))


@needs_unshare
def test_kept_paths_follow_and_stay_out_of_reach(work):
    base, kept = work
    spot = os.path.join(base, 'one', os.path.basename(kept))
    script = '\n'.join([
        'set -e',
        'test -e /tmp/mark-one && test -f "$1/precious"',
        # The work directory's spot for the kept path is empty: removing it stops there.
        'test -d "$2" && test -z "$(ls -A "$2")"',
        'rm -rf "$0/one" 2>/dev/null || true',
        'test -f "$1/precious"',
        # A switch to another tree takes the kept path along.
        'bash "$3" --switch "$0/two"',
        'test -e /tmp/mark-two && test ! -e /tmp/mark-one && test -f "$1/precious"',
    ])
    result = subprocess.run(['bash', PRIVATE_TMP, '--keep', kept, os.path.join(base, 'one'),
                             '/bin/sh', '-c', script, base, kept, spot, PRIVATE_TMP],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=20, check=False, cwd='/')
    assert result.returncode == 0, result.stderr
    with open(os.path.join(kept, 'precious')) as handle:
        assert handle.read() == 'kept\n'
    # Outside, nothing is mounted: the spot is an empty directory of the work directory.
    assert os.listdir(spot) == []


@needs_unshare
def test_switch_only_in_its_namespace(work):
    """--switch from anywhere else (here: a throwaway namespace) is refused, /tmp stays."""
    base, dummy = work
    script = ('HAPPYSSH_PRIVATE_TMP_NS=mnt:[1] bash "$0" --switch "$1/one"; echo $?; '
              'bash "$0" --switch "$1/one"; echo $?; test ! -e /tmp/mark-one && echo host')
    result = subprocess.run(['unshare', '-m', '--propagation', 'private', '/bin/sh', '-c', script,
                             PRIVATE_TMP, base], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=20, check=False)
    assert result.stdout.split() == ['125', '125', 'host'], result.stderr
