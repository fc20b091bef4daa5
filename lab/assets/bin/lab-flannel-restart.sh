#!/bin/sh
# certroll lab: restart this host's flanneld stand-in (like 'kubectl delete pod flannel-…'): SIGTERM to the pid in its pid
# file; the kubelet stand-in starts a fresh flanneld within about a second.
set -eu
pidfile="@HOSTS_DIR@"/$(hostname)/run/flanneld.pid
[ -s "$pidfile" ] || { echo "lab-flannel-restart: no flanneld pid file $pidfile" >&2; exit 1; }
kill -TERM "$(cat "$pidfile")"
echo "flanneld $(cat "$pidfile") stopped; the kubelet stand-in restarts it"
