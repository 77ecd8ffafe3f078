# shellcheck shell=bash
# Environment of the tests, the demo and the benchmarks; source it.
happyssh_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HAPPYSSH_ROOT=$happyssh_root
export CONTAINERS_CONF=$happyssh_root/tests/images/containers.conf
export ANSIBLE_COLLECTIONS_PATH=$happyssh_root/.cache/collections
export HAPPYSSH_KEY=$happyssh_root/.cache/ssh/id_ed25519
export PATH=$happyssh_root/.venv/bin:$PATH
