#!/usr/bin/env bash
# Build the libFuzzer targets with clang in their own folder and run each one
# on a copy of its seed corpus (docs/testing.md, "Fuzzing").
#
#   tests/fuzz/run.sh [--runs N] [--time S] [target...]
#
#   --runs N   executions per target (libFuzzer -runs; default 10000000)
#   --time S   stop a target after S seconds even if N is not reached
#              (libFuzzer -max_total_time; default: no limit)
#   target     fuzz_twilio_form ... (default: all seven)
#
# Environment: FUZZ_BUILD (build folder, default <source>/build-fuzz),
# FUZZ_JOBS (build jobs, default 2), CC (default clang).
# The committed corpus is never modified: each target runs on a temporary
# copy. Crash, leak, timeout and out-of-memory inputs are kept in
# $FUZZ_BUILD/artifacts/ and the script exits 1 after printing the report.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$src/build-fuzz}
jobs=${FUZZ_JOBS:-2}
cc=${CC:-clang}
runs=10000000
max_time=0
all=(fuzz_twilio_form fuzz_meta_webhook fuzz_msg fuzz_answers fuzz_env fuzz_dhis2 fuzz_provider)
targets=()

while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --time) max_time=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    fuzz_*) targets+=("$1"); shift ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# Longest input per target: a little over what each parser accepts, so that
# the size limits themselves are exercised.
max_len() {
    case "$1" in
    fuzz_msg) echo 4200 ;;          # CMN_MSG_MAX_BYTES 4096
    fuzz_answers) echo 1024 ;;      # CIU_ANSWER_MAX 100 per answer
    fuzz_env) echo 8192 ;;
    *) echo 16384 ;;                # webhook text kept up to 4096 bytes
    esac
}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run.sh: '$cc' not found: the fuzz targets need clang and libFuzzer" >&2
    echo "  (Debian 12: apt-get install clang libclang-rt-dev; make deps installs them)" >&2
    exit 1
fi

# Configure when needed; never reuse (or remove) a folder made with another
# compiler, which may be someone's gcc build.
cache=$build/CMakeCache.txt
if [ -f "$cache" ] && ! grep -q '^CMAKE_C_COMPILER:.*clang' "$cache"; then
    echo "run.sh: $build was configured with another compiler than clang;" \
        "remove it or set FUZZ_BUILD to another folder" >&2
    exit 2
fi
if ! grep -q '^CIU_FUZZ:BOOL=ON' "$cache" 2>/dev/null; then
    CC=$cc cmake -S "$src" -B "$build" -DCIU_FUZZ=ON -DCIU_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target fuzz-all -j "$jobs" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/ciu-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=$build/artifacts
mkdir -p "$artifacts"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

limit="-runs=$runs"
[ "$max_time" -gt 0 ] && limit="$limit -max_total_time=$max_time"
echo "fuzz: $limit per target (build: $build)"
printf '%-18s %12s %10s %8s %8s\n' target executions exec/s corpus crashes
failed=0
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    [ -x "$bin" ] || { echo "run.sh: no target $t in $build" >&2; exit 2; }
    mkdir -p "$work/$t/corpus"
    cp -R "$src/tests/fuzz/corpus/$t/." "$work/$t/corpus/"
    dict=()
    [ -f "$src/tests/fuzz/$t.dict" ] && dict=("-dict=$src/tests/fuzz/$t.dict")
    before=$(find "$artifacts" -name "$t-*" | wc -l)
    rc=0
    # shellcheck disable=SC2086 # $limit is two options
    (cd "$work/$t" && "$bin" corpus $limit -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
        "${dict[@]}" >log 2>&1) || rc=$?
    log=$work/$t/log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    crashes=$(($(find "$artifacts" -name "$t-*" | wc -l) - before))
    [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
    printf '%-18s %12s %10s %8s %8s\n' "$t" "${execs:-?}" "${speed:-?}" \
        "$(find "$work/$t/corpus" -type f | wc -l)" "$crashes"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] ||
        grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
        failed=$((failed + 1))
        echo "---- $t failed (exit $rc); the input is in $artifacts/; end of its log:"
        tail -n 60 "$log"
        echo "----"
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz: $failed target(s) failed"
    exit 1
fi
echo "fuzz: ok (${#targets[@]} targets, no crash, leak or sanitizer report)"
