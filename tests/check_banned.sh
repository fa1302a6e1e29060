#!/bin/sh
# check_banned.sh -- refuses the libc calls our style bans (see STYLE.md, habit 9).
#
# strcpy, strcat, sprintf, gets, atoi, atol and strtok either cannot be told
# the size of their destination or cannot report a bad number. We use
# mw_strlcpy, snprintf and mw_parse_i64 instead. The check is a whole-word
# grep for a call (name followed by an opening parenthesis), so snprintf,
# vsnprintf, fgets, strtok_r and names that merely contain a banned word pass.
# Comments are not parsed: write about these calls without the parenthesis.
#
# usage: sh tests/check_banned.sh [REPO_DIR]   exits 1 and lists file:line
# for every offender.
set -u
root=${1:-.}
cd "$root" || { echo "check_banned: cannot enter $root" >&2; exit 2; }

banned='strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok'
dirs=""
for d in src tests bench; do
	[ -d "$d" ] && dirs="$dirs $d"
done
[ -n "$dirs" ] || { echo "check_banned: no src/, tests/ or bench/ under $root" >&2; exit 2; }

# -w would treat '_' as a word character too, which is what we want:
# strtok_r and my_atoi are other names. The lookbehind is emulated with a
# leading non-word character or start of line.
offenders=$(find $dirs -type f \( -name '*.c' -o -name '*.h' \) -print | sort |
	xargs -r grep -HnE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" 2>/dev/null)

if [ -n "$offenders" ]; then
	echo "banned calls found (use mw_strlcpy, snprintf, mw_parse_i64 / strtol with checks):"
	echo "$offenders"
	exit 1
fi
n=$(find $dirs -type f \( -name '*.c' -o -name '*.h' \) | wc -l)
echo "banned calls: none in $n files"
exit 0
