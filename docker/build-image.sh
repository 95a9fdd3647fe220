#!/usr/bin/env bash
# Builds flowgate's image from docker/Dockerfile with Debian's podman, without any registry:
# debootstraps a Debian 12 base from the mirror this host's apt uses, imports it as the base of
# both stages, builds with --pull=never, then checks in the image (as its user) that the
# binary's libraries resolve and that the entry point's `flowgate --check-config` passes.
# Slow (the build stage compiles flowgate) and needs root: it is not part of CI.
#   docker/build-image.sh [TAG]          default flowgate:dev
# Environment: FLOWGATE_JOBS (compile jobs, default 1), FLOWGATE_IMAGE_WORK (default
# /var/tmp/flowgate-image: the base's root file system), FLOWGATE_STORAGE_DRIVER (default vfs,
# which works inside containers where overlay mounts do not).
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-flowgate:dev}"
work="${FLOWGATE_IMAGE_WORK:-/var/tmp/flowgate-image}"
base=localhost/flowgate-base:bookworm
podman=(podman --storage-driver "${FLOWGATE_STORAGE_DRIVER:-vfs}")

for tool in podman buildah debootstrap; do
  command -v "$tool" >/dev/null ||
    { echo "build-image.sh: needs $tool (apt-get install podman buildah debootstrap)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "build-image.sh: run as root (debootstrap, podman storage)" >&2; exit 1; }

# The first Debian mirror apt is configured with (deb822 or one-line sources).
mirror="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p; s/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\(http[^[:space:]]*\).*/\2/p' |
  grep -v security | head -n 1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"

start=$(date +%s)
if ! "${podman[@]}" image exists "$base"; then
  if [ ! -x "$work/rootfs/bin/sh" ]; then
    echo "== debootstrap bookworm (minbase) from $mirror"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror"
  fi
  echo "== import $work/rootfs as $base"
  tar -C "$work/rootfs" -c . | "${podman[@]}" import --change 'CMD ["/bin/bash"]' - "$base"
fi

echo "== build $tag"
# chroot isolation and the host's network: no user namespaces or CNI needed for RUN steps;
# docker format keeps the HEALTHCHECK (the OCI image format has none).
"${podman[@]}" build --pull=never --isolation chroot --network host --format docker \
  --build-arg BUILD_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" \
  --build-arg FLOWGATE_JOBS="${FLOWGATE_JOBS:-1}" -f docker/Dockerfile -t "$tag" .
built=$(date +%s)

# `podman run` needs an OCI runtime that may set rlimits; where it may not (crun here: "setrlimit
# RLIMIT_NOFILE: Operation not permitted"), buildah's chroot isolation still runs the image,
# as the build's RUN steps do.
echo "== in $tag, as its user: libraries resolved, the entry point's check of the default configuration"
buildah=(buildah --storage-driver "${FLOWGATE_STORAGE_DRIVER:-vfs}")
ctr="$("${buildah[@]}" from --pull-never "$tag")"
trap '"${buildah[@]}" rm "$ctr" >/dev/null' EXIT
"${buildah[@]}" run --isolation chroot --user 10001:10001 "$ctr" -- sh -c \
  '! ldd /usr/local/bin/flowgate | grep "not found" && /usr/local/bin/flowgate-entrypoint --check-config'
"${podman[@]}" image ls "$tag"
echo "build-image.sh: built in $((built - start)) s; in the image flowgate finds its libraries and accepts its configuration"
