# -*- coding: utf-8 -*-

# Copyright (c) 2026, happyssh.agent contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make ansible_collections.happyssh.agent importable under plain pytest.

ansible-test units runs from inside an ansible_collections/happyssh/agent tree, where the import already
works. A plain checkout is not laid out like that, so a temporary directory with
ansible_collections/happyssh/agent -> <collection root> is put on sys.path for the session.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile

COLLECTION = 'ansible_collections.happyssh.agent'


def _importable():
    try:
        importlib.import_module(COLLECTION + '.plugins.modules')
    except ImportError:
        return False
    return True


def _expose_collection():
    if _importable():
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    top = tempfile.mkdtemp(prefix='happyssh-coll-')
    atexit.register(shutil.rmtree, top, True)
    namespace = os.path.join(top, 'ansible_collections', 'happyssh')
    os.makedirs(namespace)
    os.symlink(root, os.path.join(namespace, 'agent'))
    sys.path.insert(0, top)
    importlib.invalidate_caches()


_expose_collection()


# The keeper's fixtures (a home with the rc part as the role installs it, the shells, sessions
# with real agents), for the tests of the role's files, of the protocol and of the test library.
from keeper_env import env, path_without_timeout, rendered, shell  # noqa: E402,F401 pylint: disable=wrong-import-position,unused-import,import-error
