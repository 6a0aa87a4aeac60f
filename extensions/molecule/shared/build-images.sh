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

build() { # suite: runs in a subshell of its own (the suites are built side by side)
  local suite=$1 image="mxfed/debian:$1" security ca unit
  root=  # not local: the EXIT trap below reads it when an error ends the subshell
  if [ "$force" -eq 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "image ${image}: present (use --force to rebuild)"
    return 0
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

  # What lab_base does in every container of every scenario, done once here (50 s of each
  # scenario's prepare when it runs alone): the controller's local CAs, under the names lab_base
  # copies them to (so its copy finds them in place and the trust store is not rebuilt), and
  # fresh apt lists (lab_base updates them again once they are older than
  # lab_base_apt_cache_valid_time). Both stay lab_base's job on an image built before a CA or
  # the mirror changed.
  for ca in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$ca" ] || continue
    install -m 0644 "$ca" "${root}/usr/local/share/ca-certificates/controller-$(basename "$ca")"
  done
  chroot "$root" update-ca-certificates >"${root}.ca.log" 2>&1 || { cat "${root}.ca.log"; exit 1; }
  rm -f "${root}.ca.log"
  cp /etc/resolv.conf "${root}/etc/resolv.conf"  # as debootstrap left it; Docker mounts its own
  chroot "$root" apt-get -q update >"${root}.apt.log" 2>&1 || { tail -n 30 "${root}.apt.log"; exit 1; }
  rm -f "${root}.apt.log"
  rm -f "${root}"/var/cache/apt/archives/*.deb "${root}"/var/cache/apt/*.bin

  tar -C "$root" -c . | docker import \
    -c 'ENV container=docker' \
    -c 'CMD ["/sbin/init"]' \
    - "$image" >/dev/null
  rm -rf "$root"
  trap - EXIT
  echo "image ${image}: built"
}

# Side by side: each is mostly waiting on the mirror and on dpkg, one core each.
pids=()
for suite in "${suites[@]}"; do
  build "$suite" &
  pids+=("$!")
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit "$rc"
