#!/usr/bin/env bash
# Prepares a Debian machine to run mergebench and its test suite: the packages
# they need, a Docker daemon that answers, and the offline base image.
#
# Safe to run again at any time: it changes only what is missing and is quiet
# and fast when nothing is. Needs root; re-runs itself with sudo when it can.
#
#   MERGEBENCH_BASE_IMAGE   base image tag to ensure (default mergebench-base:bookworm)
#   MERGEBENCH_SETUP_LOG    where apt and build output goes (default /var/log/mergebench-setup.log)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=${MERGEBENCH_BASE_IMAGE:-mergebench-base:bookworm}
DOCKERD_LOG=/var/log/mergebench-dockerd.log
DOCKERD_WAIT=60

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

if [[ $EUID -ne 0 ]]; then
    # Checked here, as the calling user: root's PATH under sudo usually lacks
    # the user's ~/.cargo/bin, so the check would be wrong after re-running.
    command -v cargo >/dev/null || say "warning: cargo not found; install Rust (https://rustup.rs) before 'cargo run' or 'cargo test'"
    if command -v sudo >/dev/null; then
        say "not root; re-running with sudo"
        exec sudo --preserve-env=MERGEBENCH_BASE_IMAGE,MERGEBENCH_SETUP_LOG,MERGEBENCH_DEBIAN_MIRROR,MERGEBENCH_DEBIAN_SECURITY_MIRROR,DOCKER_HOST,http_proxy,https_proxy,no_proxy,HTTP_PROXY,HTTPS_PROXY,NO_PROXY \
            MERGEBENCH_SETUP_CARGO_CHECKED=1 bash "$0" "$@"
    fi
    die "must run as root to install packages and start dockerd, and sudo is not available; run it as root: su -c '$0'"
fi
if [[ -z ${MERGEBENCH_SETUP_CARGO_CHECKED:-} ]] && ! command -v cargo >/dev/null; then
    say "warning: cargo not found; install Rust (https://rustup.rs) before 'cargo run' or 'cargo test'"
fi

LOG=${MERGEBENCH_SETUP_LOG:-/var/log/mergebench-setup.log}
export DEBIAN_FRONTEND=noninteractive
did_work=0

# ---- packages ---------------------------------------------------------------

installed() { [[ $(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null) == installed ]]; }

wanted=()
# A daemon installed another way (docker-ce, a static binary) is fine, and
# docker.io would conflict with docker-ce; with a remote DOCKER_HOST no local
# daemon is needed at all, only a client.
if ! command -v docker >/dev/null || { ! command -v dockerd >/dev/null && [[ -z ${DOCKER_HOST:-} ]]; }; then
    wanted+=(docker.io)
fi
command -v debootstrap >/dev/null || wanted+=(debootstrap)          # builds the base image
[[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] || wanted+=(debian-archive-keyring)
command -v git >/dev/null || wanted+=(git)                           # task repositories and bundles
installed ca-certificates || wanted+=(ca-certificates)
command -v chromium >/dev/null || wanted+=(chromium)                 # browser tests of the labeling UI
command -v chromedriver >/dev/null || wanted+=(chromium-driver)
command -v cc >/dev/null || wanted+=(gcc libc6-dev)                   # rusqlite compiles its bundled SQLite
command -v openssl >/dev/null || wanted+=(openssl)                   # TLS certificates for the remote-daemon test
command -v ip >/dev/null || wanted+=(iproute2)                       # the remote-daemon test's own bridge
command -v ssh >/dev/null || wanted+=(openssh-client)                # DOCKER_HOST=ssh://
[[ -x /usr/sbin/sshd ]] || wanted+=(openssh-server)                  # the ssh remote-daemon test (never started as a service)

apt_lists_usable() {
    local p candidate
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || return 1
    for p in "$@"; do
        candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2 }')
        [[ -n $candidate && $candidate != "(none)" ]] || return 1
    done
}

apt_update() {
    say "refreshing package lists (apt-get update)"
    # A third-party source that is down must not block Debian's own packages;
    # if they are really unavailable, the install below says so.
    apt-get update -q >>"$LOG" 2>&1 || say "warning: apt-get update reported errors (see $LOG); continuing"
}

apt_install() {
    # Packages install their files only: no service starts (openssh-server would otherwise
    # start an sshd on port 22; the tests start their own on loopback when they need one).
    local policy=/usr/sbin/policy-rc.d ours=0 rc=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
    fi
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >>"$LOG" 2>&1 || rc=$?
    [[ $ours -eq 1 ]] && rm -f "$policy"
    return $rc
}

if ((${#wanted[@]})); then
    did_work=1
    say "installing ${wanted[*]} (output in $LOG)"
    updated=0
    if ! apt_lists_usable "${wanted[@]}"; then
        apt_update
        updated=1
    fi
    if ! apt_install "${wanted[@]}"; then
        # Lists that are present but old name package versions the mirror has
        # since dropped (404); refreshing them once fixes that.
        if [[ $updated -eq 0 ]]; then
            apt_update
            apt_install "${wanted[@]}" || { tail -n 20 "$LOG" >&2; die "apt-get install ${wanted[*]} failed (full output in $LOG)"; }
        else
            tail -n 20 "$LOG" >&2
            die "apt-get install ${wanted[*]} failed (full output in $LOG)"
        fi
    fi
fi

# ---- Docker daemon ----------------------------------------------------------

docker_answers() { timeout 20 docker info >/dev/null 2>&1; }

dockerd_running() {
    local pid
    [[ -r /var/run/docker.pid ]] && pid=$(<"/var/run/docker.pid") && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

if ! docker_answers; then
    did_work=1
    if [[ -n ${DOCKER_HOST:-} && $DOCKER_HOST != unix://* ]]; then
        die "DOCKER_HOST=$DOCKER_HOST does not answer (docker info failed); start that daemon, or unset DOCKER_HOST to use a local one"
    fi
    if dockerd_running; then
        say "dockerd is running but not answering yet; waiting up to ${DOCKERD_WAIT}s"
    elif [[ -d /run/systemd/system ]] && systemctl start docker >>"$LOG" 2>&1; then
        say "started docker with systemctl"
    else
        # No systemd here (containers, CI runners): run dockerd ourselves,
        # detached so that it outlives this script.
        say "starting dockerd (log: $DOCKERD_LOG)"
        command -v dockerd >/dev/null || die "no dockerd to start; install docker.io (apt-get install docker.io)"
        # A unix DOCKER_HOST names the socket clients will use, so listen there.
        setsid nohup dockerd ${DOCKER_HOST:+-H "$DOCKER_HOST"} >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    for ((i = 0; i < DOCKERD_WAIT; i++)); do
        docker_answers && break
        sleep 1
    done
    if ! docker_answers; then
        tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
        die "the Docker daemon did not answer within ${DOCKERD_WAIT}s; see $DOCKERD_LOG"
    fi
    say "Docker daemon is up"
fi

# ---- base image ---------------------------------------------------------------

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    did_work=1
    say "building the base image $BASE_IMAGE (about a minute)"
    MERGEBENCH_BASE_IMAGE=$BASE_IMAGE "$ROOT/harness/base/build-base.sh" \
        || die "building $BASE_IMAGE failed (its messages are above)"
fi

if [[ $did_work -eq 1 ]]; then
    say "done in ${SECONDS}s"
else
    say "everything is in place"
fi
