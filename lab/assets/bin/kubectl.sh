#!/bin/sh
# certroll lab: kubectl stand-in (only what the TOS flannel restart uses: get po, delete po).
hosts="@HOSTS_DIR@"
case " $* " in
  *" get po"*|*" get pods"*)
    echo "NAME                        READY   STATUS    RESTARTS   AGE   NODE"
    for f in "$hosts"/*/run/flanneld.pid; do
      [ -s "$f" ] || continue
      h=$(basename "$(dirname "$(dirname "$f")")")
      echo "kube-flannel-ds-$h   1/1     Running   0          1h    $h"
    done ;;
  *" delete po"*|*" delete pod"*)
    n=0
    for a in "$@"; do
      case "$a" in
        kube-flannel-ds-*) h=${a#kube-flannel-ds-}; kill -TERM "$(cat "$hosts/$h/run/flanneld.pid")" && echo "pod "$a" deleted" && n=$((n+1)) ;;
      esac
    done
    [ "$n" -gt 0 ] || { echo "error: resource name may not be empty" >&2; exit 1; } ;;
  *) echo "kubectl (certroll lab stand-in): only 'get po' and 'delete po' are supported" >&2; exit 1 ;;
esac
