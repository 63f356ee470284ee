#!/usr/bin/env bash
# Checks that the README's example code is the code CI builds: each fenced block that follows
# a marker line `<!-- example:NAME -->` in README.md must be example/NAME byte for byte (the
# examples are built for Linux and macOS and run as ctests). Prints a diff and exits 1 on
# any difference, on a marker without a ```cpp block right below it, on a marker naming a
# missing file, or when README.md has no marker at all.
# `--update` first rewrites each marked block from its file (after editing an example).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readme=$root/README.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ${1:-} == --update ]]; then
  awk -v root="$root" '
    state == 2 { if ($0 == "```") { print; state = 0 }; next }  # the old block: dropped
    state == 1 {
      print
      state = 0
      if ($0 == "```cpp") {
        file = root "/example/" name
        while ((getline line < file) > 0) print line
        close(file)
        state = 2
      }
      next
    }
    match($0, /^<!-- example:[A-Za-z0-9_.-]+ -->$/) { name = substr($0, 14, length($0) - 17); state = 1 }
    { print }
  ' "$readme" >"$work/README.md"
  cat "$work/README.md" >"$readme"
fi

# Writes block N to $work/N.cpp and "N NAME" to $work/index; a malformed marker to stderr.
awk -v work="$work" '
  state == 0 && match($0, /^<!-- example:[A-Za-z0-9_.-]+ -->$/) {
    name = substr($0, 14, length($0) - 17)
    state = 1
    next
  }
  state == 1 {
    if ($0 != "```cpp") {
      printf "README.md:%d: the marker for %s is not followed by a ```cpp block\n", NR - 1, name > "/dev/stderr"
      bad = 1
      state = 0
      next
    }
    n++
    out = work "/" n ".cpp"
    printf "" > out  # an empty block still gets its file
    print n, name > (work "/index")
    state = 2
    next
  }
  state == 2 {
    if ($0 == "```") { close(out); state = 0; next }
    print > out
  }
  END {
    if (state == 2) { printf "README.md: the block for %s is not closed\n", name > "/dev/stderr"; bad = 1 }
    exit bad
  }
' "$readme" || exit 1

if [[ ! -s $work/index ]]; then
  echo "README.md: no <!-- example:NAME --> marker" >&2
  exit 1
fi

status=0
while read -r n name; do
  file=$root/example/$name
  if [[ ! -f $file ]]; then
    echo "README.md: example/$name does not exist" >&2
    status=1
  elif ! diff -u --label "example/$name" --label "README.md (example:$name)" "$file" "$work/$n.cpp"; then
    status=1
  else
    echo "README.md: example/$name matches"
  fi
done <"$work/index"
exit "$status"
