#!/usr/bin/env bash
# Run every unit test binary of a plain (non-sanitized) build under valgrind:
# any memory error or definite leak fails.
set -u
build=$1
fails=0
count=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    count=$((count + 1))
    if ! valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --trace-children=no "$t" >"$t.valgrind.log" 2>&1; then
        echo "valgrind: $(basename "$t") FAILED"
        tail -n 40 "$t.valgrind.log"
        fails=$((fails + 1))
    else
        echo "valgrind: $(basename "$t") ok"
    fi
done
[ "$count" -gt 0 ] || { echo "valgrind: no unit test binaries in $build/tests"; exit 1; }
echo "$((count - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
