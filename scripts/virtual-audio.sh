#!/usr/bin/env bash
# voxlive's virtual sound card: a headless PulseAudio server with a virtual speaker and a virtual microphone,
# so real cpal streams open on machines without a sound card (CI, containers, headless dev boxes).
# Adapted from the recipe verified on Debian 12 as root with cpal 0.18 (ALSA host and native pulseaudio host).
#
# Usage:
#   source scripts/virtual-audio.sh start   # installs missing packages, starts the server (idempotent),
#                                           # and exports XDG_RUNTIME_DIR into the calling shell
#   scripts/virtual-audio.sh start          # same, but the caller must export XDG_RUNTIME_DIR itself
#   scripts/virtual-audio.sh stop           # stops the keep-alive streams and the server it started
#   scripts/virtual-audio.sh status         # exit 0 when the virtual devices are up
#
# Devices (both defaults, so cpal's default input/output devices are real streams through them):
#   vox_speaker    default output (null sink); record what was played from vox_speaker.monitor
#   vox_mic_feed   a null sink: play a WAV into it (paplay -d vox_mic_feed models/samples/q_time_tokyo.wav) ...
#   vox_mic        ... and it comes out of this source, the default input (a remap of vox_mic_feed.monitor)
#
# The server lives in its own runtime directory ($VOXLIVE_AUDIO_RUNTIME_DIR, default ~/.vox-xdg-runtime), never in
# a desktop session's /run/user/N, so a developer's real PulseAudio/PipeWire is left alone.
#
# Notes measured on these machines:
# - an idle null sink runs in 2 s blocks, so the first capture callback can come up to 2 s late; the keep-alive
#   streams (silence into both sinks) bring that to ~5 ms.
# - ALSA default -> PulseAudio comes from libasound2-plugins' conf.d; /etc/asound.conf is written as a backstop
#   (only when it does not exist and we may write it).
# - enumerating ALSA devices prints harmless "ALSA lib ..." and JACK lines on stderr for the plugin PCMs.
# - cpal's `pulseaudio` feature finds the server via $XDG_RUNTIME_DIR/pulse/native or PULSE_SERVER.
# Safe to source from a shell running `set -euo pipefail`: it never exits the caller, it returns a status.

_vox_va_runtime=${VOXLIVE_AUDIO_RUNTIME_DIR:-${HOME:-/root}/.vox-xdg-runtime}
export XDG_RUNTIME_DIR=$_vox_va_runtime
_vox_va_state=$XDG_RUNTIME_DIR/vox-virtual-audio

_vox_va_need_packages() {
  command -v pulseaudio >/dev/null 2>&1 || return 0
  command -v pacat >/dev/null 2>&1 || return 0
  command -v pactl >/dev/null 2>&1 || return 0
  dpkg -s libasound2-plugins >/dev/null 2>&1 || return 0
  return 1
}

_vox_va_install() {
  local pkgs="pulseaudio pulseaudio-utils libasound2-plugins alsa-utils"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "virtual audio: missing packages; as root run: apt-get install -y $pkgs" >&2; return 1
    fi
  fi
  echo "virtual audio: installing $pkgs" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

_vox_va_running() {
  pactl list short sinks 2>/dev/null | grep -q '^[0-9]*[[:space:]]vox_speaker[[:space:]]'
}

_vox_va_kill_keepalives() {
  if [ -f "$_vox_va_state/keepalive.pids" ]; then
    local p
    while read -r p; do [ -n "$p" ] && kill "$p" 2>/dev/null; done < "$_vox_va_state/keepalive.pids"
    rm -f "$_vox_va_state/keepalive.pids"
  fi
  return 0
}

_vox_va_start() {
  if _vox_va_need_packages; then _vox_va_install || return 1; fi
  mkdir -p -m 700 "$XDG_RUNTIME_DIR" && mkdir -p "$_vox_va_state" || return 1
  if _vox_va_running; then echo "virtual audio: already running (XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR)"; return 0; fi
  # A server without our devices (or a stale one) in our private runtime dir: replace it.
  _vox_va_kill_keepalives
  if pactl info >/dev/null 2>&1; then pulseaudio --kill 2>/dev/null || true; sleep 0.3; fi
  cat > "$_vox_va_state/vox.pa" <<'PA'
load-module module-native-protocol-unix
load-module module-null-sink sink_name=vox_speaker rate=48000 sink_properties=device.description=vox_speaker
load-module module-null-sink sink_name=vox_mic_feed rate=48000 sink_properties=device.description=vox_mic_feed
load-module module-remap-source master=vox_mic_feed.monitor source_name=vox_mic source_properties=device.description=vox_mic
set-default-sink vox_speaker
set-default-source vox_mic
PA
  pulseaudio -D -n -F "$_vox_va_state/vox.pa" --exit-idle-time=-1 --disallow-exit \
    --log-target=file:"$_vox_va_state/pulse.log" 2>/dev/null || true
  local _
  for _ in $(seq 100); do _vox_va_running && break; sleep 0.1; done
  if ! _vox_va_running; then
    echo "virtual audio: pulseaudio did not start (see $_vox_va_state/pulse.log)" >&2; return 1
  fi
  if [ ! -e /etc/asound.conf ] && [ -w /etc ]; then
    printf 'pcm.!default { type pulse }\nctl.!default { type pulse }\n' > /etc/asound.conf
  fi
  local sink
  for sink in vox_speaker vox_mic_feed; do
    # setsid + closed stdio: the keep-alive must not hold a CI step's pipes open or die with its shell.
    setsid pacat -d "$sink" --format=s16le --rate=48000 --channels=2 --raw --latency-msec=20 /dev/zero \
      </dev/null >/dev/null 2>&1 &
    echo $! >> "$_vox_va_state/keepalive.pids"
  done
  echo "virtual audio: running (speaker vox_speaker, microphone vox_mic fed by vox_mic_feed; XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR)"
}

_vox_va_stop() {
  _vox_va_kill_keepalives
  if [ -f "$XDG_RUNTIME_DIR/pulse/pid" ]; then kill "$(cat "$XDG_RUNTIME_DIR/pulse/pid")" 2>/dev/null || true; fi
  local _
  for _ in $(seq 30); do pactl info >/dev/null 2>&1 || break; sleep 0.1; done
  echo "virtual audio: stopped"
}

_vox_va_main() {
  case "${1:-start}" in
    start) _vox_va_start ;;
    stop) _vox_va_stop ;;
    status) if _vox_va_running; then echo "virtual audio: running"; else echo "virtual audio: not running"; return 1; fi ;;
    *) echo "usage: virtual-audio.sh start|stop|status" >&2; return 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _vox_va_main "$@"; exit $?
else
  _vox_va_main "$@"
fi
