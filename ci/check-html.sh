#!/usr/bin/env bash
# Checks an HTML report (netpol's report.html) in headless Chromium:
#   ci/check-html.sh REPORT.html [SCREENSHOT.png]
# - renders it with every <details> opened, at 1400 and at 500 px wide, and
#   fails unless the page's own layout check (data-layout on <html>) says
#   no table sticks out of the page except inside its scroll container;
# - fails unless the DOM has the expected structure: the header, the table
#   per tag, the legend, truth tables with row and column headers;
# - fails if the file refers to an external resource;
# - takes a screenshot of the page as it opens (1400x2000), by default next
#   to the report (report.png).
# Chromium: $CHROMIUM, else chromium or chromium-browser on the PATH
# (ci/install-deps.sh installs Debian's chromium).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 REPORT.html [SCREENSHOT.png]" >&2
  exit 2
fi
report=$1
shot=${2:-${report%.html}.png}
[ -f "$report" ] || { echo "check-html: $report: no such file" >&2; exit 2; }

chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  echo "check-html: chromium is not installed: run ci/install-deps.sh (as root)" >&2
  exit 2
fi

fail() { echo "check-html: $report: $*" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
url="file://$(realpath "$report" | sed 's/%/%25/g; s/ /%20/g; s/#/%23/g')"

# chromium RUN-NAME ARGS...: one headless run with a fresh profile; stdout
# to $work/RUN-NAME.out.
browse() {
  local name=$1
  shift
  mkdir -p "$work/$name.profile"
  if ! timeout 180 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
      --no-first-run --disable-background-networking --disable-component-update \
      --disable-sync --user-data-dir="$work/$name.profile" "$@" \
      >"$work/$name.out" 2>"$work/$name.err"; then
    tail -n 20 "$work/$name.err" >&2
    fail "chromium failed ($name)"
  fi
}

# Self-contained: no external script, stylesheet, font, image or frame.
if grep -Eiq '<link|@import|url\(|<(script|img|iframe|embed|object|source|audio|video)[^>]*[[:space:]]src=' "$report"; then
  fail "refers to an external resource: $(grep -Eio '<link[^>]*>|@import[^;]*|url\([^)]*\)|<[a-z]+[^>]*[[:space:]]src=[^>]*>' "$report" | head -n 3)"
fi

for width in 1400 500; do
  browse "dom$width" --window-size="$width,2000" --dump-dom "$url#check"
  dom="$work/dom$width.out"
  layout=$(grep -o 'data-layout="[^"]*"' "$dom" | head -n 1 || true)
  [ -n "$layout" ] || fail "no layout verdict at ${width}px (did the inline script run?)"
  [ "$layout" = 'data-layout="ok"' ] || fail "layout at ${width}px: $layout"
done

dom="$work/dom1400.out"
tables=$(grep -o '<table class="tt">' "$dom" | wc -l)
[ "$tables" -gt 0 ] || fail "no truth table (table.tt)"
for want in '<h1>' 'class="kv"' 'id="tags"' '<table class="tg">' 'aria-label="legend"' \
            '<caption>' '<th scope="col">' '<th scope="row">'; do
  grep -qF "$want" "$dom" || fail "the DOM lacks $want"
done

browse shot --window-size=1400,2000 --hide-scrollbars --screenshot="$(realpath -m "$shot")" "$url"
[ -s "$shot" ] && [ "$(head -c 4 "$shot" | tail -c 3)" = PNG ] || fail "no screenshot in $shot"

echo "check-html: $report: ok ($tables truth tables, layout ok at 1400 and 500 px, $(wc -c <"$report") bytes); screenshot $shot"
