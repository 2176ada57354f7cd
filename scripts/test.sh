#!/usr/bin/env bash
# The project's test command (README, CI): prepares the machine, builds, runs every test, prints a summary.
#   scripts/test.sh                  # everything
#   scripts/test.sh -- FILTER...     # extra arguments after -- go to `cargo test` (e.g. a test name filter)
# Steps: scripts/setup.sh (system packages, quiet when present) -> virtual audio devices (PulseAudio null sinks,
# so cpal opens real streams without a sound card) -> Python venv with the pinned official SDK (target/sdk-venv,
# used by tests/sdk/run.sh) -> cargo build -> cargo test --all-targets, then the patched crates' unit tests ->
# SDK conformance (when the binary has `serve --cert-out`; VOXLIVE_SDK_CONFORMANCE=0 skips it, =1 requires it)
# -> summary.
# Works unattended (CI=true, no stdin). VOXLIVE_TEST_TIMEOUT bounds `cargo test` (seconds, default 1200).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
cargo_args=()
if [ "${1:-}" = "--" ]; then shift; cargo_args=("$@"); fi

step() { printf '\n==> %s\n' "$*"; }
t0=$SECONDS

step "setup"
scripts/setup.sh

step "virtual audio"
# shellcheck source=scripts/virtual-audio.sh
source scripts/virtual-audio.sh start   # exports XDG_RUNTIME_DIR for cpal / the ALSA pulse plugin

step "SDK venv"
export VOXLIVE_SDK_VENV=${VOXLIVE_SDK_VENV:-$repo/target/sdk-venv}
tests/sdk/run.sh --setup-only

step "build"
target_dir=${CARGO_TARGET_DIR:-$repo/target}
export VOXLIVE_BIN=${VOXLIVE_BIN:-$target_dir/debug/voxlive}   # the binary tests/sdk/run.sh serves with
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
cargo build --all-targets

step "cargo test --all-targets"
log=$(mktemp "${TMPDIR:-/tmp}/voxlive-test.XXXXXX")
trap 'rm -f "$log"' EXIT
test_status=0
# Two phases: everything else in parallel, then the tests on the shared virtual devices and terminals alone, so
# a busy 2-core machine cannot starve the PulseAudio server under them (a starved null sink drops audio, which a
# device test would rightly call a broken echo). A FILTER given after -- runs as one phase.
device_modules=(audio_devices live_e2e live_resume_e2e live_tool_e2e echo_path ptt_e2e ui_pty)
# cargo test TARGETS... -- FILTERS...; keeps the first failing status
run_tests() {
  local status=0
  timeout --signal=INT --kill-after=30 "${VOXLIVE_TEST_TIMEOUT:-1200}" cargo test "$@" 2>&1 </dev/null | tee -a "$log" \
    || status=${PIPESTATUS[0]}
  [ "$test_status" -ne 0 ] || test_status=$status
}
if [ ${#cargo_args[@]} -gt 0 ]; then
  run_tests --all-targets -- "${cargo_args[@]}"
else
  # libtest filters go to the integration binary only (the criterion bench takes no --skip)
  run_tests --lib --bins --benches --examples
  skips=(); for m in "${device_modules[@]}"; do skips+=(--skip "$m::"); done
  run_tests --test tests -- "${skips[@]}"
  step "device and terminal tests"
  run_tests --test tests -- "${device_modules[@]/%/::}"
  # The patched cpal and pulseaudio crates (scripts/patched) are not workspace members: their own unit tests,
  # upstream's and the voxlive patches' (pacing, latency clock), run from their manifests and lockfiles.
  step "patched dependencies"
  CARGO_TARGET_DIR="$target_dir/patched" run_tests --locked --manifest-path scripts/patched/pulseaudio/Cargo.toml --lib
  CARGO_TARGET_DIR="$target_dir/patched" run_tests --locked --manifest-path scripts/patched/cpal/Cargo.toml --lib \
    --features pulseaudio
fi
[ "$test_status" -ne 124 ] || echo "scripts/test.sh: cargo test timed out after ${VOXLIVE_TEST_TIMEOUT:-1200} s"

sdk_status=skipped
case "${VOXLIVE_SDK_CONFORMANCE:-auto}" in
  0) ;;
  *)
    # Run it once the binary has `serve --tls --cert-out` (until src/server is merged it has not).
    if "$VOXLIVE_BIN" serve --help 2>/dev/null | grep -q -- '--cert-out'; then
      step "SDK conformance (google-genai against voxlive serve)"
      if tests/sdk/run.sh </dev/null; then sdk_status=passed; else sdk_status=FAILED; fi
    elif [ "${VOXLIVE_SDK_CONFORMANCE:-auto}" = 1 ]; then
      echo "scripts/test.sh: VOXLIVE_SDK_CONFORMANCE=1 but $VOXLIVE_BIN has no 'serve' subcommand"
      sdk_status=FAILED
    fi ;;
esac

# Summary from libtest's "test result:" lines.
read -r passed failed ignored suites < <(awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i;
                    if ($(i+1) ~ /^ignored;?$/) g += $i }; n++ }
  END { printf "%d %d %d %d\n", p, f, g, n }' "$log")
failures=$(sed -n '/^failures:$/,/^test result:/{/^    [^ ]/p}' "$log" | sort -u)

step "summary"
echo "cargo test: $passed passed, $failed failed, $ignored ignored in $suites test binaries (exit $test_status)"
[ -z "$failures" ] || { echo "failed tests:"; echo "$failures"; }
echo "SDK conformance: $sdk_status"
echo "time: $((SECONDS - t0)) s"
sdk_passed=0; sdk_failed=0
case "$sdk_status" in passed) sdk_passed=1 ;; FAILED) sdk_failed=1 ;; esac
if [ "$test_status" -eq 0 ] && [ "$sdk_status" != FAILED ]; then
  echo "scripts/test.sh: ALL TESTS PASSED"
  echo "tests: $((passed + sdk_passed)) passed, $((failed + sdk_failed)) failed"
else
  echo "scripts/test.sh: TESTS FAILED"
  echo "tests: $((passed + sdk_passed)) passed, $((failed + sdk_failed > 0 ? failed + sdk_failed : 1)) failed"
  exit 1
fi
