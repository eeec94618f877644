#!/bin/sh
# Checks examples/mlp's promises, and mlp_mpi's.
#   check_mlp.sh accuracy MIN MLP ARGS...  one run; its last line is "accuracy: NN.N%"
#                                          with NN.N >= MIN
#   check_mlp.sh repeat MLP ARGS...        two runs print the same loss on every epoch
#                                          line (only the times may differ)
#   check_mlp.sh match TOL RANKS MPIEXEC MLP MLP_MPI ARGS...
#                                          mlp_mpi on RANKS ranks prints every epoch's
#                                          loss within TOL (relative) of mlp's
set -eu
mode=$1
shift
folder=$(mktemp -d)
trap 'rm -rf "$folder"' EXIT

case $mode in
accuracy)
    min=$1
    shift
    "$@" > "$folder/out"
    cat "$folder/out"
    last=$(tail -n 1 "$folder/out")
    if ! printf '%s\n' "$last" | grep -Eq '^accuracy: [0-9]+\.[0-9]%$'; then
        echo "FAIL: the last line is not 'accuracy: NN.N%'"
        exit 1
    fi
    percent=${last#accuracy: }
    if ! awk -v got="${percent%\%}" -v min="$min" 'BEGIN { exit !(got + 0 >= min + 0) }'; then
        echo "FAIL: accuracy below $min%"
        exit 1
    fi
    ;;
repeat)
    for run in 1 2; do
        "$@" > "$folder/out$run"
        awk '$1 == "epoch" { print $2, $3, $4 }' "$folder/out$run" > "$folder/losses$run"
    done
    cat "$folder/out1"
    if [ ! -s "$folder/losses1" ] || ! cmp -s "$folder/losses1" "$folder/losses2"; then
        echo "FAIL: two runs with one seed printed different losses:"
        diff "$folder/losses1" "$folder/losses2" || true
        exit 1
    fi
    ;;
match)
    tolerance=$1 ranks=$2 mpiexec=$3 mlp=$4 mlp_mpi=$5
    shift 5
    "$mlp" "$@" > "$folder/one"
    "$mpiexec" -np "$ranks" --oversubscribe "$mlp_mpi" "$@" > "$folder/many"
    cat "$folder/many"
    awk '$1 == "epoch" { print $4 }' "$folder/one" > "$folder/losses1"
    awk '$1 == "epoch" { print $4 }' "$folder/many" > "$folder/losses2"
    if [ ! -s "$folder/losses1" ] ||
        [ "$(wc -l < "$folder/losses1")" != "$(wc -l < "$folder/losses2")" ] ||
        ! paste "$folder/losses1" "$folder/losses2" | awk -v tol="$tolerance" '
            { d = $1 - $2; if (d < 0) d = -d; if (d > tol * $1) bad = 1 } END { exit bad }'
    then
        echo "FAIL: mlp_mpi's losses on $ranks ranks (right) are not within $tolerance of mlp's:"
        paste "$folder/losses1" "$folder/losses2"
        exit 1
    fi
    ;;
*)
    echo "usage: check_mlp.sh accuracy MIN MLP ARGS... | repeat MLP ARGS... |"
    echo "       match TOL RANKS MPIEXEC MLP MLP_MPI ARGS..."
    exit 2
    ;;
esac
