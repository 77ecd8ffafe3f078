# shellcheck shell=bash
# Helpers of the ecosystem checks (tests/lint/galaxy-importer, mitogen, ansible-builder,
# changelog-docs and tests/matrix); source it. Sets eco_root to the checkout.
#
#   eco_tool_venv NAME SPEC...   make (once) .cache/tools/NAME, a venv of Debian's
#                                /usr/bin/python3 holding the pip SPECs; prints its path.
#                                It is remade when the SPECs change.
#   eco_locked COMMAND...        run COMMAND (a command or a function, in a subshell with
#                                errexit on) holding /tmp/happyssh-podman.lock, so that one
#                                podman user runs at a time on this machine; runs it at once
#                                inside another eco_locked, or when a caller such as
#                                `flock /tmp/happyssh-podman.lock bash tests/run` holds it.
#                                Call it as a plain command (or through eco_try): after `if`,
#                                `||` or `&&`, bash turns errexit off inside, for good.
#   eco_try COMMAND...           run COMMAND in a subshell with errexit on and put its exit
#                                status in $eco_rc, without stopping the caller.
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

# The lock is held by a small holder process, not by this shell: whatever COMMAND
# starts and leaves running (conmon of a `podman run -d`, an ssh ControlPersist master)
# would otherwise inherit the descriptor and keep the lock after COMMAND is done.
# The holder lets go when COMMAND ends, or when this shell is gone (or a zombie).
eco_locked() {
  local dir holder rc errexit='' owner=$BASHPID
  if [ -n "${HAPPYSSH_PODMAN_LOCK_HELD:-}" ] || eco_lock_inherited; then
    "$@"
    return
  fi
  case $- in *e*) errexit=1 ;; esac
  dir=$(mktemp -d)
  # shellcheck disable=SC2016 # expanded by the holder's sh
  flock "$eco_lock" sh -c ': >"$1/held"
    while [ ! -e "$1/done" ] && grep -q "^State:[[:space:]]*[^Z]" "/proc/$2/status" 2>/dev/null; do sleep 0.2; done' \
    eco-lock-holder "$dir" "$owner" &
  holder=$!
  until [ -e "$dir/held" ]; do
    kill -0 "$holder" 2>/dev/null || { rm -rf "$dir"; echo "eco_locked: flock $eco_lock failed" >&2; return 1; }
    sleep 0.2
  done
  set +e
  (
    set -e
    export HAPPYSSH_PODMAN_LOCK_HELD=1
    "$@"
  )
  rc=$?
  [ -z "$errexit" ] || set -e
  : >"$dir/done"
  wait "$holder" || true
  rm -rf "$dir"
  return "$rc"
}

eco_try() {
  set +e
  (
    set -e
    "$@"
  )
  # shellcheck disable=SC2034 # read by the caller
  eco_rc=$?
  set -e
}

eco_recap_sum() {
  sed -n "/^PLAY RECAP/,\$ s/.* $2=\\([0-9]*\\).*/\\1/p" "$1" | awk '{ s += $1 } END { print s + 0 }'
}
