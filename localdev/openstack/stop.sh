#!/bin/bash
# Stop exactly the process groups recorded by start.sh (each daemon was started with setsid).
# TERM first; whatever is still alive after a grace period (nova-api, nova-compute and the conductor
# often ignore TERM) gets KILL.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
rm -f "$READY_MARKER"
group_alive(){ kill -0 -- "-$1" 2>/dev/null; }
for f in "$R"/pids/*.pid; do
  [ -f "$f" ] || continue
  pg=$(cat "$f"); kill -TERM -- "-$pg" 2>/dev/null && echo "TERM group $pg ($(basename "$f" .pid))"
done
for _ in $(seq 1 20); do
  alive=0
  for f in "$R"/pids/*.pid; do [ -f "$f" ] && group_alive "$(cat "$f")" && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.5
done
for f in "$R"/pids/*.pid; do
  [ -f "$f" ] || continue
  pg=$(cat "$f"); kill -KILL -- "-$pg" 2>/dev/null && echo "KILL group $pg ($(basename "$f" .pid))"
  rm -f "$f"
done
true
