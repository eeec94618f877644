#!/bin/sh
# kiln-tune --kernel tc: at STRICT math it skips tensor cores and says why, on every
# device; at FAST math, a device without tensor cores (PoCL) is skipped the same way,
# and one with them (NVIDIA sm_80 or later) times both rows of its table and reports
# the winner. Every outcome exits 0.
#   tune_tc.sh KILN_TUNE
set -eu
tune=$1
fail() {
    echo "tune_tc: $*" >&2
    exit 1
}

# kiln-tune with these arguments; it must exit 0. Its output goes to stdout too.
run() {
    status=0
    out=$("$tune" "$@") || status=$?
    printf '%s\n' "$out"
    [ "$status" -eq 0 ] || fail "kiln-tune $* exited $status"
}

run --kernel tc --math strict --shapes 256 --dry-run
printf '%s\n' "$out" | grep -q "tensor cores skipped: math is STRICT" ||
    fail "strict math does not say why tensor cores are skipped"

run --kernel tc --dtype bf16 --shapes 256
if printf '%s\n' "$out" | grep -q "tensor cores skipped: no mma.sync tensor cores"; then
    exit 0
fi
printf '%s\n' "$out" | grep -q "^winner: " || fail "no skip and no winner reported"
