#!/usr/bin/env bash
# check_10_abi.sh — the exported ABI is exactly what the header declares:
#   nm -D --defined-only of the shared library == the version script's
#   symbols == the header's IPF_API declarations; every symbol carries a
#   version node; the soname and real file name follow the header's version;
#   the header compiles alone, warning-free, as C99, C11 (-pedantic) and C++11.
set -euo pipefail
B=${B:-build}
HDR=include/influencer_profiler.h
MAP=lib/libinfluencer_profiler.map
CC=${CC:-cc}
CXX=${CXX:-c++}
fail=0
err() { echo "check_abi: FAIL: $*" >&2; fail=1; }

ver() { sed -n "s/^#define IPF_VERSION_$1 \([0-9]*\)\$/\1/p" "$HDR"; }
MAJOR=$(ver MAJOR) MINOR=$(ver MINOR) PATCH=$(ver PATCH)
[ -n "$MAJOR" ] && [ -n "$MINOR" ] && [ -n "$PATCH" ] || { echo "check_abi: cannot read the version from $HDR" >&2; exit 1; }
ABI=$(sed -n 's/^#define IPF_ABI_VERSION \([0-9]*\)$/\1/p' "$HDR")
[ "$ABI" = "$MAJOR" ] || err "IPF_ABI_VERSION $ABI differs from IPF_VERSION_MAJOR $MAJOR (the soname number)"

SO="$B/libinfluencer_profiler.so.$MAJOR.$MINOR.$PATCH"
[ -f "$SO" ] || { echo "check_abi: FAIL: $SO missing (real file name must follow the header version; run make)" >&2; exit 1; }
SONAME=$(readelf -d "$SO" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$SONAME" = "libinfluencer_profiler.so.$MAJOR" ] || err "soname is '$SONAME', expected libinfluencer_profiler.so.$MAJOR"
[ "$(readlink "$B/libinfluencer_profiler.so.$MAJOR")" = "libinfluencer_profiler.so.$MAJOR.$MINOR.$PATCH" ] ||
  err "$B/libinfluencer_profiler.so.$MAJOR does not link to the real file"
grep -q "^IPF_$MAJOR\.$MINOR *{" "$MAP" || err "$MAP has no node IPF_$MAJOR.$MINOR for version $MAJOR.$MINOR"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Exported: defined dynamic symbols other than the version nodes themselves.
nm -D --defined-only "$SO" | awk '$2 != "A" {print $3}' > "$tmp/nm_raw"
grep -v '^ipf_' "$tmp/nm_raw" | sed 's/^/  /' > "$tmp/stray" || true
[ -s "$tmp/stray" ] && { err "exported symbols without the ipf_ prefix:"; cat "$tmp/stray" >&2; }
grep -v '@@\?IPF_[0-9]*\.[0-9]*$' "$tmp/nm_raw" | sed 's/^/  /' > "$tmp/unver" || true
[ -s "$tmp/unver" ] && { err "exported symbols without a version node:"; cat "$tmp/unver" >&2; }
sed 's/@.*//' "$tmp/nm_raw" | sort -u > "$tmp/nm"

# Version script: every `name;` inside a node.
sed 's|/\*.*\*/||g' "$MAP" | grep -oE '^[[:space:]]*ipf_[A-Za-z0-9_]+[[:space:]]*;' | tr -d ' \t;' | sort > "$tmp/map_all"
sort -u "$tmp/map_all" > "$tmp/map"
dups=$(uniq -d "$tmp/map_all")
[ -z "$dups" ] || err "symbols listed twice in $MAP: $dups"

# Header: the function name in each IPF_API declaration (declarations may span lines).
tr '\n' ' ' < "$HDR" | grep -oE 'IPF_API[^;{(]*\bipf_[A-Za-z0-9_]+[[:space:]]*\(' |
  grep -oE 'ipf_[A-Za-z0-9_]+[[:space:]]*\($' | tr -d ' \t(' | sort > "$tmp/hdr_all"
sort -u "$tmp/hdr_all" > "$tmp/hdr"

compare() { # a b label
  if ! diff -u "$tmp/$1" "$tmp/$2" > "$tmp/diff"; then
    err "$3 differ (- only in $1, + only in $2):"
    grep '^[-+]ipf' "$tmp/diff" | sed 's/^/  /' >&2
  fi
}
compare hdr map "header IPF_API declarations and $MAP"
compare map nm "$MAP and nm -D of $SO"
echo "check_abi: $(wc -l < "$tmp/nm") exported symbols, version IPF_$MAJOR.$MINOR, soname $SONAME"

# The header alone, strict, in C and C++ (as a user includes it: no IPF_BUILDING_LIBRARY).
printf '#include "influencer_profiler.h"\nint main(void) { return ipf_version_number() == IPF_VERSION_NUMBER ? 0 : 1; }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cc"
for std in c99 c11; do
  $CC -std=$std -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/h.c" -o "$tmp/h_$std.o" || err "header does not compile as $std -pedantic -Werror"
done
$CXX -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/h.cc" -o "$tmp/h_cxx.o" || err "header does not compile as C++11 -pedantic -Werror"
# ... and a program built against it links and runs against the shared library.
$CC -std=c99 -Iinclude "$tmp/h.c" -L"$B" -linfluencer_profiler -Wl,-rpath,"$(cd "$B" && pwd)" -o "$tmp/h" &&
  "$tmp/h" || err "a C99 program using the header does not link or run against $SO"

[ $fail -eq 0 ] && echo "check_abi: ok"
exit $fail
