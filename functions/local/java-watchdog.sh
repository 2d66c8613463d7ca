#!/bin/sh
# Runs DynamoDB Local (java with the given arguments) and stops it as soon as
# the gateway that started it goes away, however it ends: stdin is a pipe from
# the gateway, and it reaches end-of-file when the gateway's process is gone.
# Exits with java's status when java stops by itself.
exec 3<&0
java "$@" &
child=$!
trap 'kill "$child" 2>/dev/null; wait "$child"; exit 0' INT TERM HUP
(cat <&3 >/dev/null; kill "$child" 2>/dev/null) &
watcher=$!
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
