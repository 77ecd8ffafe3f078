# shellcheck shell=bash
# Helpers of the ecosystem checks (tests/lint/galaxy-importer, mitogen, ansible-builder,
# changelog-docs and tests/matrix); source it. Sets eco_root to the checkout.
#
#   eco_tool_venv NAME SPEC...   make (once) .cache/tools/NAME, a venv of Debian's
#                                /usr/bin/python3 holding the pip SPECs; prints its path.
#                                It is remade when the SPECs change.
#   eco_locked COMMAND...        run COMMAND holding /tmp/happyssh-podman.lock (one podman user
#                                at a time on this machine); runs it at once when this process
#                                already inherited the lock from a caller such as
#                                `flock /tmp/happyssh-podman.lock bash tests/run`.
#   eco_recap_sum LOG FIELD      sum of FIELD (ok, changed, failed, unreachable...) over the
#                                PLAY RECAP lines of an ansible-playbook log.

eco_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
eco_lock=/tmp/happyssh-podman.lock

eco_tool_venv() {
  local name=$1 venv stamp
  shift
  venv=$eco_root/.cache/tools/$name
  stamp="$*"
  if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" 2>&1 \
      | { grep -v '^WARNING: Location' || true; } >&2
    echo "$stamp" >"$venv/.stamp"
  fi
  echo "$venv"
}

eco_lock_inherited() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" != "$eco_lock" ] || return 0
  done
  return 1
}

eco_locked() {
  if eco_lock_inherited; then
    "$@"
    return
  fi
  (
    exec 9>>"$eco_lock"
    flock 9
    "$@"
  )
}

eco_recap_sum() {
  sed -n "/^PLAY RECAP/,\$ s/.* $2=\\([0-9]*\\).*/\\1/p" "$1" | awk '{ s += $1 } END { print s + 0 }'
}
