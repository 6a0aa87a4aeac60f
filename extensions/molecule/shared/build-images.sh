#!/usr/bin/env bash
# Build the lab's base images locally: no image registry is needed (or reachable).
# debootstrap a minimal Debian with systemd as PID 1, then `docker import`.
# Usage: build-images.sh [--force] [suite ...]   (default suites: bookworm trixie)
# Images: mxfed/debian:<suite>. Existing images are kept unless --force is given.
set -euo pipefail

force=0
suites=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    *) suites+=("$arg") ;;
  esac
done
[ "${#suites[@]}" -gt 0 ] || suites=(bookworm trixie)

mirror="${MXFED_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What a freshly provisioned VPS has, and what Ansible needs to manage it; nothing role-specific.
include="systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,curl,procps,gnupg,sudo,less"

for suite in "${suites[@]}"; do
  image="mxfed/debian:${suite}"
  if [ "$force" -eq 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "image ${image}: present (use --force to rebuild)"
    continue
  fi
  root=$(mktemp -d "/tmp/mxfed-rootfs-${suite}.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "image ${image}: debootstrap ${suite} from ${mirror}"
  debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >"${root}.log" 2>&1 \
    || { tail -n 30 "${root}.log"; exit 1; }
  rm -f "${root}.log"

  # apt sources as on a real host: updates and security; backports on bookworm (Go 1.23 lives there).
  security="${MXFED_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
  {
    echo "deb ${mirror} ${suite} main"
    echo "deb ${mirror} ${suite}-updates main"
    echo "deb ${security} ${suite}-security main"
    [ "$suite" = bookworm ] && echo "deb ${mirror} ${suite}-backports main"
  } >"${root}/etc/apt/sources.list"

  # A container has no consoles, udev or kernel modules to load; these units only fail or wait there.
  for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
              systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
              systemd-firstboot.service systemd-remount-fs.service; do
    ln -sf /dev/null "${root}/etc/systemd/system/${unit}"
  done
  : >"${root}/etc/machine-id"
  rm -rf "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/archives/*.deb

  tar -C "$root" -c . | docker import \
    -c 'ENV container=docker' \
    -c 'CMD ["/sbin/init"]' \
    - "$image" >/dev/null
  rm -rf "$root"
  trap - EXIT
  echo "image ${image}: built"
done
