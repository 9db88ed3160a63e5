#!/usr/bin/env bash
# Runs the health checks of Podman's running containers at their intervals.
#
# Podman schedules health checks with systemd timers; where there is no systemd (our
# machines, most CI containers) it never runs them, so a container stays "starting"
# forever and Compose's `condition: service_healthy` and Testcontainers' health-check wait
# never end. This loop does what the timers would: `podman healthcheck run` for every
# running container whose interval has passed since its last check, and, as Docker 25 and
# later do, every 5 s during the container's start period. Started, once, by
# scripts/container-engine.sh; it stops by itself when the Podman service is gone.
set -uo pipefail

socket="${1:?usage: podman-health-timer.sh <podman socket path>}"
readonly START_INTERVAL_NS=5000000000
declare -A last_check_ns=()

while [ -S "$socket" ]; do
  now_ns=$(date +%s%N)
  # A second between looks while a container has a health check, five while none has:
  # each look runs podman, which a shared 2-core machine notices.
  tick=5
  # One line per running container with a health check: its id, interval and start
  # period in ns, and when it started in s.
  while read -r id interval_ns start_period_ns started_s; do
    [ -n "$started_s" ] || continue
    tick=1
    # A container created without an interval gets Docker's default, 30 s.
    [ "$interval_ns" -gt 0 ] || interval_ns=30000000000
    if ((now_ns < started_s * 1000000000 + start_period_ns && interval_ns > START_INTERVAL_NS)); then
      interval_ns=$START_INTERVAL_NS
    fi
    if ((now_ns - ${last_check_ns[$id]:-0} >= interval_ns)); then
      last_check_ns[$id]=$now_ns
      # Checks run one after the other; a check's own timeout bounds each, and this one
      # what podman itself may spend around it (waiting for a container's lock). Its
      # standard input is not the list being read.
      timeout 60 podman healthcheck run "$id" </dev/null >/dev/null 2>&1
      status=$?
      took_s=$((($(date +%s%N) - now_ns) / 1000000000))
      if ((took_s >= 10)); then echo "$(date -Is) ${id:0:12}: check took ${took_s} s (exit $status)"; fi
    fi
  done < <(podman ps --quiet --no-trunc |
    xargs --no-run-if-empty podman inspect --format \
      '{{.Id}}{{with .Config.Healthcheck}} {{printf "%d %d" .Interval .StartPeriod}}{{end}} {{.State.StartedAt.Unix}}' \
      2>/dev/null)
  sleep "$tick"
done
