#!/bin/sh
# certroll lab: the anchor of one lab host (first process of its mount+UTS namespace).
# usage: anchor.sh NAME HOSTDIR   (HOSTDIR/mounts lists "SOURCE TARGET" bind mounts)
set -eu
name=$1
hostdir=$2
hostname "$name"
while read -r src dst; do
  [ -n "$src" ] || continue
  mount --bind "$src" "$dst"
done < "$hostdir/mounts"
echo $$ > "$hostdir/run/anchor.pid.tmp"
mv "$hostdir/run/anchor.pid.tmp" "$hostdir/run/anchor.pid"
exec sleep infinity
