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
#   scripts/virtual-audio.sh echo-path on [DELAY_MS] [LEVEL_DB]   # a real echo path: what vox_speaker plays
#                                           # comes back into vox_mic DELAY_MS later (default 40), LEVEL_DB quieter
#                                           # (default -12), through module-loopback (adaptive resampling: real drift)
#   scripts/virtual-audio.sh echo-path off  # removes it
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
    while read -r p; do if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi; done < "$_vox_va_state/keepalive.pids"
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

# The loopback's sink input carries this name, so `off` and a second `on` find exactly ours.
_vox_va_echo_name=vox_echo_path

_vox_va_echo_off() {
  local m
  for m in $(pactl list short modules 2>/dev/null | awk -v n="$_vox_va_echo_name" '$2 == "module-loopback" && index($0, n) {print $1}'); do
    pactl unload-module "$m" || return 1
  done
  return 0
}

# A room's echo, as PulseAudio can make one: module-loopback from the speaker's monitor into the microphone's
# feed sink, attenuated on its sink input. The loopback resamples adaptively to hold its latency, which gives
# the small, varying clock drift of a real speaker-to-microphone path.
_vox_va_echo_on() {
  local delay=${1:-40} level=${2:--12} m si _
  case "$delay" in ''|*[!0-9]*) echo "echo-path: DELAY_MS must be a whole number of ms" >&2; return 2 ;; esac
  case "$level" in -[0-9]*|0) ;; *) echo "echo-path: LEVEL_DB must be 0 or negative (e.g. -12)" >&2; return 2 ;; esac
  _vox_va_running || { echo "echo-path: the virtual devices are not running (start first)" >&2; return 1; }
  _vox_va_echo_off || return 1
  m=$(pactl load-module module-loopback source=vox_speaker.monitor sink=vox_mic_feed latency_msec="$delay" \
    source_dont_move=true sink_dont_move=true remix=true \
    sink_input_properties=media.name=$_vox_va_echo_name source_output_properties=media.name=$_vox_va_echo_name) || return 1
  for _ in $(seq 50); do
    si=$(pactl list sink-inputs | awk -v m="$m" '/^Sink Input #/ {i = substr($3, 2)} $1 == "Owner" && $3 == m {print i; exit}')
    [ -n "$si" ] && break; sleep 0.1
  done
  [ -n "$si" ] || { echo "echo-path: the loopback has no sink input" >&2; pactl unload-module "$m"; return 1; }
  # pactl reads a leading '-' as "lower by", so pass the level as a linear factor
  pactl set-sink-input-volume "$si" "$(awk -v db="$level" 'BEGIN {printf "%.4f", 10 ^ (db / 20)}')" || return 1
  echo "echo-path: on (vox_speaker -> vox_mic, ${delay} ms, ${level} dB; module $m)"
}

_vox_va_main() {
  case "${1:-start}" in
    start) _vox_va_start ;;
    stop) _vox_va_stop ;;
    echo-path)
      case "${2:-}" in
        on) _vox_va_echo_on "${3:-}" "${4:-}" ;;
        off) _vox_va_echo_off && echo "echo-path: off" ;;
        *) echo "usage: virtual-audio.sh echo-path on [DELAY_MS] [LEVEL_DB] | echo-path off" >&2; return 2 ;;
      esac ;;
    status) if _vox_va_running; then echo "virtual audio: running"; else echo "virtual audio: not running"; return 1; fi ;;
    *) echo "usage: virtual-audio.sh start|stop|status|echo-path" >&2; return 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _vox_va_main "$@"; exit $?
else
  _vox_va_main "$@"
fi
