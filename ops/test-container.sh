#!/usr/bin/env bash
# The container image as a self-hoster meets it: builds the Dockerfile's runtime stage with
# podman (the tested binary and web app put in as its `build` stage), starts it with a named
# volume, waits for its health check, and checks that it runs as a non-root user, serves the
# API, keeps accounts and secrets in /data across a restart, and answers its health check again.
#
#   ops/test-container.sh BINARY WEB_DIR
#
# No registry is reachable from these machines, so the base image (Debian bookworm, as
# debian:bookworm-slim) is made here once by debootstrap from Debian's mirror and kept in
# podman's store. The Dockerfile's build stage (rust image) cannot be pulled here: it is not run.
set -euo pipefail

BINARY=$(realpath "$1")
WEB=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=localhost/partner-portal-test/debian:bookworm-slim
IMAGE=localhost/partner-portal:test
NAME=partner-portal-test
VOLUME=partner-portal-test-data
# This machine: crun cannot run containers here ("cgroups in hybrid mode not supported"), runc
# can; and a container may not raise its limits above the host's, so they are set.
ENGINE_FLAGS=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

work=$(mktemp -d)
cleanup() {
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
cleanup_start() {
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    podman rmi -f "$IMAGE" >/dev/null 2>&1 || true # the last run's image, not left dangling
}
cleanup_start

if ! podman image exists "$BASE"; then
    echo "== base image: debootstrap bookworm (minbase)"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" \
        || { tail -20 "$work/debootstrap.log"; exit 1; }
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    tar -C "$work/rootfs" -c . | podman import - "$BASE" >/dev/null
    rm -rf "$work/rootfs"
fi

echo "== image: the Dockerfile's runtime stage"
mkdir -p "$work/build/out"
cp "$BINARY" "$work/build/out/partner-portal"
cp -r "$WEB" "$work/build/out/web"
podman build --quiet --format docker "${ENGINE_FLAGS[@]}" --pull=never \
    --build-arg RUNTIME_IMAGE="$BASE" --build-context build="$work/build" --target runtime \
    -t "$IMAGE" -f "$ROOT/Dockerfile" "$work/build" >/dev/null
podman image inspect "$IMAGE" --format 'image size: {{.Size}} bytes, user {{.Config.User}}, volumes {{.Config.Volumes}}'

echo "== start with a named volume"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start() {
    podman run -d --name "$NAME" "${ENGINE_FLAGS[@]}" -p "127.0.0.1:$port:8080" -v "$VOLUME:/data" \
        -e PORTAL_PUBLIC_URL="http://127.0.0.1:$port" "$IMAGE" >/dev/null
}
# The image's HEALTHCHECK (`partner-portal ready`): podman runs it on request here (no systemd).
wait_healthy() {
    for _ in $(seq 1 120); do
        if podman healthcheck run "$NAME" >/dev/null 2>&1; then return 0; fi
        if [ "$(podman inspect -f '{{.State.Running}}' "$NAME")" != true ]; then
            podman logs "$NAME" | tail -20; echo "the container stopped"; exit 1
        fi
        sleep 0.5
    done
    podman logs "$NAME" | tail -20; echo "never healthy"; exit 1
}
start
wait_healthy
uid=$(podman exec "$NAME" id -u)
[ "$uid" != 0 ] || { echo "runs as root"; exit 1; }
echo "healthy; runs as uid $uid"

api=http://127.0.0.1:$port/api/v1
json='content-type: application/json'
email=container@example.com
password='correct horse battery'
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$json" -d "{\"email\":\"$email\",\"name\":\"Con Tainer\",\"password\":\"$password\"}" "$api/auth/signup")
[ "$status" = 202 ] || { echo "sign-up answered $status"; exit 1; }
# The verification mail is a file in the volume (the default mail transport).
token=""
for _ in $(seq 1 60); do
    token=$(podman exec "$NAME" sh -c 'cat /data/mail/* 2>/dev/null' | tr -d '\r' | sed -e ':a' -e '/=$/N; s/=\n//; ta' \
        | grep -o 'verify-email?token=3D[A-Za-z0-9_-]*\|verify-email?token=[A-Za-z0-9_-]*' | head -1 | sed 's/.*token=\(3D\)\{0,1\}//')
    [ -n "$token" ] && break
    sleep 0.5
done
[ -n "$token" ] || { echo "no verification mail in /data/mail"; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$json" -d "{\"token\":\"$token\"}" "$api/auth/verify-email")
[ "$status" = 204 ] || { echo "verification answered $status"; exit 1; }
login() { curl -s -o /dev/null -w '%{http_code}' -H "$json" -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$api/auth/login"; }
[ "$(login)" = 200 ] || { echo "sign-in failed before the restart"; exit 1; }
secrets_before=$(podman exec "$NAME" sh -c 'cat /data/secrets/*' | sha256sum)

echo "== a new container on the same volume"
podman rm -f "$NAME" >/dev/null
start
wait_healthy
[ "$(login)" = 200 ] || { echo "sign-in failed after the restart: the volume lost the account or the secrets"; exit 1; }
[ "$(podman exec "$NAME" sh -c 'cat /data/secrets/*' | sha256sum)" = "$secrets_before" ] || { echo "the secrets changed"; exit 1; }
echo "container test passed: image built, healthy, non-root, data kept across containers"
