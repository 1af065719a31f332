#!/usr/bin/env bash
# Builds the offline base image that task and agent images start FROM.
#
# It exists because the machines mergebench runs on often reach no container
# registry but do reach a Debian mirror: debootstrap gives us the same
# bookworm userland a registry image would, built locally.
#
# Usage: harness/base/build-base.sh [--force]
#   MERGEBENCH_BASE_IMAGE             image tag (default mergebench-base:bookworm)
#   MERGEBENCH_DEBIAN_MIRROR          Debian mirror (default http://deb.debian.org/debian)
#   MERGEBENCH_DEBIAN_SECURITY_MIRROR security mirror written into the image's
#                                     sources.list; empty leaves it out
set -euo pipefail

readonly SUITE=bookworm
readonly PACKAGES=python3,python3-pytest,git,patch,ca-certificates
readonly AGENT_UID=1000
TAG=${MERGEBENCH_BASE_IMAGE:-mergebench-base:bookworm}
MIRROR=${MERGEBENCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
# A custom mirror usually means deb.debian.org is not reachable, so the
# security suite is only added by default when the default mirror is in use;
# otherwise apt-get update in every derived Dockerfile would stall on it.
if [[ $MIRROR == http://deb.debian.org/debian ]]; then
    SECURITY_MIRROR=${MERGEBENCH_DEBIAN_SECURITY_MIRROR-http://deb.debian.org/debian-security}
else
    SECURITY_MIRROR=${MERGEBENCH_DEBIAN_SECURITY_MIRROR:-}
fi
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

FORCE=0
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-base: unknown argument '$arg' (expected --force or --help)" >&2; exit 2 ;;
    esac
done

log() { printf 'build-base: %s\n' "$*" >&2; }
die() { printf 'build-base: error: %s\n' "$*" >&2; exit 1; }
step() { printf 'build-base: [%3ss] %s\n' "$SECONDS" "$*" >&2; }
on_error() { printf 'build-base: error: line %s failed (exit %s): %s\n' "$2" "$1" "$3" >&2; }
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap and chroot need it); try: sudo $0 $*"
command -v docker >/dev/null || die "no docker command; run scripts/setup.sh first"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed); run scripts/setup.sh to start it"

image_exists() { docker image inspect "$TAG" >/dev/null 2>&1; }

if [[ $FORCE -eq 0 ]] && image_exists; then
    log "$TAG already exists; nothing to do (use --force to rebuild)"
    exit 0
fi

# Two builds at once (two CI jobs, or setup.sh racing a user) would both
# spend a minute debootstrapping; the second one waits, then finds the image.
if command -v flock >/dev/null; then
    exec 9>/var/lock/mergebench-base.lock
    if ! flock -n 9; then
        log "another build of the base image is running; waiting for it"
        flock 9
        if [[ $FORCE -eq 0 ]] && image_exists; then
            log "$TAG was built meanwhile; nothing to do"
            exit 0
        fi
    fi
fi

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
[[ -r $KEYRING ]] || missing+=(debian-archive-keyring)
if ((${#missing[@]})); then
    step "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null || true; apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
        || die "could not install ${missing[*]}; install them by hand and re-run"
fi

# /var/tmp rather than /tmp: the rootfs needs exec and device nodes, which a
# tmpfs /tmp is often mounted without, and it is a few hundred megabytes.
ROOTFS=$(mktemp -d /var/tmp/mergebench-base.XXXXXX)
cleanup() {
    # debootstrap mounts /proc and /sys inside the target; if it was killed
    # they may still be mounted, and removing the tree must never reach into
    # the host's /proc or /sys through them.
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$ROOTFS" 'index($2, d"/") == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT
trap 'log "interrupted; removing the partial build"; exit 130' INT TERM

step "debootstrap $SUITE from $MIRROR (minbase + ${PACKAGES//,/ })"
if ! debootstrap --variant=minbase --components=main --keyring="$KEYRING" \
        --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
        > >(grep --line-buffered -Ev '^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) ' | sed -u 's/^/  /' >&2) 2>&1; then
    [[ -f $ROOTFS/debootstrap/debootstrap.log ]] && tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" >&2
    die "debootstrap failed; check that $MIRROR is reachable (set MERGEBENCH_DEBIAN_MIRROR to use another mirror)"
fi

step "configuring apt sources, the agent user and image defaults"
# Derived Dockerfiles install more packages with apt-get, so the image must
# point at a mirror this machine can reach.
{
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [[ -z $SECURITY_MIRROR ]] || echo "deb ${SECURITY_MIRROR%/} $SUITE-security main"
} > "$ROOTFS/etc/apt/sources.list"

# The same apt settings Docker's official Debian images carry, so a Dockerfile
# behaves the same FROM this base as FROM debian:bookworm-slim: no package
# cache left in layers, no translation downloads, no services started by
# package post-install scripts.
cat > "$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'Acquire::Languages "none";' > "$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' > "$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes"
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"

# Documentation, manuals and translations are a quarter of the image and
# nothing in a sandbox reads them; every task image is built on this base, so
# they are dropped here and kept out of packages installed later. Copyright
# files stay (the licences ask for them) and so do the directories, because
# some maintainer scripts expect /usr/share/man/man1 to exist.
cat > "$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
DPKG
find "$ROOTFS/usr/share/doc" "$ROOTFS/usr/share/man" "$ROOTFS/usr/share/info" \
     "$ROOTFS/usr/share/locale" "$ROOTFS/usr/share/lintian" \
     ! -type d ! -name copyright ! -path "$ROOTFS/usr/share/locale/locale.alias" \
     -delete 2>/dev/null || true

# Agents run as this user, never as root; a fixed uid/gid lets the harness
# name it numerically (--user 1000:1000) and own uploaded files by number.
chroot "$ROOTFS" groupadd --gid "$AGENT_UID" agent
chroot "$ROOTFS" useradd --uid "$AGENT_UID" --gid "$AGENT_UID" --create-home \
    --home-dir /home/agent --shell /bin/bash agent

# Files uploaded as an archive keep whatever owner the archive names, which
# need not be the user running git in the container; git would then refuse
# /workspace with "detected dubious ownership". A container holds one
# repository and no other users' files, so there is nothing to guard against.
chroot "$ROOTFS" git config --system --add safe.directory '*'

step "cleaning apt lists, caches, logs and host files"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* \
    "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
    "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* "$ROOTFS"/root/.cache
# debootstrap copies these from the host; Docker provides its own at run time,
# and the host's must not end up in a published image.
rm -f "$ROOTFS/etc/resolv.conf" "$ROOTFS/etc/hostname"
mkdir -p "$ROOTFS/var/lib/apt/lists/partial" "$ROOTFS/var/cache/apt/archives/partial"

step "importing the root filesystem into Docker"
old_id=$(docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)
# Imported untagged and checked first, so a broken build never takes the tag
# and is never mistaken for a good base by the next run.
new_id=$(tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/sh"]' \
    --message "mergebench base: debootstrap $SUITE minbase from $MIRROR" \
    - ) || die "docker import failed"

step "checking the image"
if ! docker run --rm --network none --user "$AGENT_UID:$AGENT_UID" "$new_id" \
        sh -c 'python3 -m pytest --version >/dev/null && git --version >/dev/null && patch --version >/dev/null && [ "$(id -un)" = agent ]' ; then
    docker image rm "$new_id" >/dev/null 2>&1 || true
    die "the imported image failed its smoke test (python3 -m pytest, git, patch, user agent)"
fi
docker tag "$new_id" "$TAG"
if [[ -n $old_id && $old_id != "$new_id" ]]; then
    # Still used by an existing image or container: leave it, it is only space.
    docker image rm "$old_id" >/dev/null 2>&1 || true
fi

size=$(docker image inspect --format '{{.Size}}' "$TAG")
step "built $TAG (${new_id#sha256:}; $((size / 1000000)) MB) in ${SECONDS}s"
