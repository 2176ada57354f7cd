#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build, run and test voxlive. Idempotent, quiet, and fast when
# everything is already there (it asks dpkg first and only runs apt-get when something is missing).
# Run as root (or as a user with passwordless sudo). Never reads stdin, so it is safe with CI=true.
#   scripts/setup.sh            # system packages + toolchain check
#   scripts/setup.sh --check    # only report what is missing (exit 1 if anything is)
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: a C compiler (ring, webrtc-vad), pkg-config + ALSA headers (cpal).
# Run/test: PulseAudio virtual devices (scripts/virtual-audio.sh), sox/espeak-ng (scripts/make-samples.sh),
# python3 + venv (tests/sdk, Google's official Python SDK as an external client), ca-certificates (PyPI, crates.io),
# tmux (tests/ui_pty.rs drives the terminal UI in a real pseudo-terminal).
packages=(build-essential pkg-config libasound2-dev ca-certificates git
          pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
          sox espeak-ng python3 python3-venv tmux)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != "installed" ]; then
    missing+=("$p")
  fi
done
drop() { local d=$1 out=() p; for p in ${missing[@]+"${missing[@]}"}; do [ "$p" = "$d" ] || out+=("$p"); done
        missing=(${out[@]+"${out[@]}"}); }
# python3-venv is needed for Debian's own python3 (its ensurepip has no wheels without it); another python3 on
# PATH (pyenv, a python.org build) carries ensurepip's bundled wheels and can make a venv by itself.
py=$(command -v python3 || true)
if [ -n "$py" ] && [ "$(readlink -f "$py")" != "$(readlink -f /usr/bin/python3 2>/dev/null)" ] \
   && python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then drop python3-venv; fi
# python3 itself: accept any python3 >= 3.9 already on PATH.
if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
  drop python3
fi

if [ "${1:-}" = "--check" ]; then
  if [ ${#missing[@]} -gt 0 ]; then echo "setup: missing packages: ${missing[*]}"; exit 1; fi
  echo "setup: all packages present"
else
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
        echo "setup: missing packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2; exit 1
      fi
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    aptlog=$(mktemp)
    if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
             -o Dpkg::Use-Pty=0 "${missing[@]}"; } >"$aptlog" 2>&1; then
      cat "$aptlog" >&2; rm -f "$aptlog"
      echo "setup: apt-get failed installing: ${missing[*]}" >&2; exit 1
    fi
    rm -f "$aptlog"
  fi
fi

# Rust: rust-version in Cargo.toml is 1.85; Debian 12's own cargo (1.63) is too old, so we don't apt-install it.
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found: install Rust >= 1.85 (https://rustup.rs), then re-run" >&2
  exit 1
fi
need=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)
have=$(rustc --version | awk '{print $2}')
if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
  echo "setup: rustc $have is older than the required $need" >&2
  exit 1
fi
[ "${1:-}" = "--check" ] || echo "setup: ok (rustc $have)"
