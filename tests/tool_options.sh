#!/bin/sh
# A kiln tool answers --help with its usage and exit statuses and --version with its
# name and kiln's version, both with status 0, and an unknown option with 2. Given its
# man page, the page names every long option --help does.
#   tool_options.sh TOOL VERSION [MAN-PAGE]
set -eu
tool=$1 version=$2 man=${3:-}
name=$(basename "$tool")
fail() {
    echo "$name: $*" >&2
    exit 1
}

help=$("$tool" --help) || fail "--help exits with $?"
printf '%s\n' "$help" | grep -qi "^usage: $name" || fail "--help prints no usage line"
printf '%s\n' "$help" | grep -qi "exit status" || fail "--help does not give the exit statuses"
answer=$("$tool" --version) || fail "--version exits with $?"
[ "$answer" = "$name $version" ] || fail "--version says '$answer', not '$name $version'"
status=0
"$tool" --no-such-option >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "an unknown option exits with $status, not 2"

[ -n "$man" ] || exit 0
page=$(sed 's/\\-/-/g' "$man") # roff writes a hyphen as \-
for option in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    printf '%s\n' "$page" | grep -q -- "$option" || fail "$man does not name $option"
done
