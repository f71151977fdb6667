# Sourced by the shell tests that start a real impulsed on port 0.
#
# wait_for_ports PID LOG [http]: waits (up to 20 s) until the impulsed with
# PID has logged the gRPC port it listens on, and with "http" also its REST
# gateway's port, and sets $port (and $http_port). When the server exits
# first or never says, prints its log and exits 1.
wait_for_ports() {
  local pid=$1 log=$2 want_http=${3:-}
  port=""
  http_port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/.*impulsed serving .* port=\([0-9][0-9]*\).*/\1/p' "$log" |
      head -n 1)
    if [[ -n "$want_http" ]]; then
      http_port=$(sed -n 's/.*http gateway serving .* port=\([0-9][0-9]*\).*/\1/p' \
        "$log" | head -n 1)
    fi
    [[ -n "$port" && (-z "$want_http" || -n "$http_port") ]] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log" >&2
      echo "FAIL: impulsed exited before listening" >&2
      exit 1
    fi
    sleep 0.1
  done
  cat "$log" >&2
  echo "FAIL: no port in the impulsed log" >&2
  exit 1
}
