# Sourced by the scripts that start background processes (with-server.sh, with-webkit.sh,
# with-postgres.sh): the PIDs they started, stopping them, and free loopback ports.
#
# Start with `cmd & PIDS+=($!)` in the script's own shell, never inside `$(...)`: a
# command substitution is a subshell, where the PID would be lost and nothing stopped.

PIDS=()

# Stop every started process and wait for it; then remove the given paths.
stop_started() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ $# -eq 0 ] || rm -rf "$@"
}

# Whether nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
