# Shared by tools/drill-*: builds orderlog and orderlog-drill (release unless --debug is
# given) and leaves the binaries' directory in DRILL_BIN and the other arguments in
# DRILL_ARGS.
drill_build() {
  local configuration=release
  DRILL_ARGS=()
  for a in "$@"; do
    if [ "$a" = "--debug" ]; then configuration=debug; else DRILL_ARGS+=("$a"); fi
  done
  tools/setup >/dev/null
  swift build -c "$configuration" --product orderlog >&2
  swift build -c "$configuration" --product orderlog-drill >&2
  DRILL_BIN=".build/$configuration"
}
