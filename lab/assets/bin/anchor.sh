#!/bin/sh
# certroll lab: the anchor of one lab host (first process of its mount+UTS namespace).
# usage: anchor.sh NAME HOSTDIR   (HOSTDIR/mounts lists "SOURCE TARGET" bind mounts, in order; a SOURCE
# "overlay:UPPER:WORK" mounts an overlayfs over TARGET with TARGET itself as its lower dir: a private, writable copy of it)
set -eu
name=$1
hostdir=$2
hostname "$name"
while read -r src dst; do
  [ -n "$src" ] || continue
  case "$src" in
    overlay:*)
      rest=${src#overlay:}
      mount -t overlay overlay -o "lowerdir=$dst,upperdir=${rest%%:*},workdir=${rest#*:}" "$dst"
      ;;
    *) mount --bind "$src" "$dst" ;;
  esac
done < "$hostdir/mounts"
echo $$ > "$hostdir/run/anchor.pid.tmp"
mv "$hostdir/run/anchor.pid.tmp" "$hostdir/run/anchor.pid"
exec sleep infinity
