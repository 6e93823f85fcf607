#!/usr/bin/env bash
# The bayeslens book: build, serve, re-execute.
#
#   bash scripts/book.sh build      # HTML from the stored outputs into _build/html (< 1 min,
#                                   # no execution, no network: JS is vendored in book/vendor)
#   bash scripts/book.sh serve      # build, then serve _build/html on http://127.0.0.1:$PORT
#   bash scripts/book.sh execute [NOTEBOOK...]
#                                   # re-run every chapter (or the given ones) in place, storing
#                                   # outputs, widget state and run times; seeded, deterministic
#   bash scripts/book.sh sync-url   # rewrite each chapter's Colab install cell from the
#                                   # repository URL in _config.yml
#   bash scripts/book.sh vendor     # fetch book/vendor's JS again from the npm registry (npm)
#
# Assumes the tools are on PATH (the project's venv active: `bash tasks.sh build` makes it).
# Environment: PORT (serve, default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "book.sh: '$1' not found: activate the venv (. .venv/bin/activate), or run 'bash tasks.sh build' to make it" >&2
    exit 2
  }
}

build() {
  need jupyter-book
  rm -rf _build
  # -W: warnings are errors; -n: nitpicky (every reference must resolve).
  jupyter-book build . -W -n --keep-going
}

case "${1:-build}" in
  build)
    build
    ;;
  serve)
    build
    port="${PORT:-8000}"
    echo "serving the book at http://127.0.0.1:${port}/ (Ctrl-C stops)"
    exec python -m http.server "$port" --bind 127.0.0.1 --directory _build/html
    ;;
  execute)
    need jupyter
    shift
    # Seeds are set in each chapter's first cell; these make the rest reproducible too.
    export PYTHONHASHSEED=0 BAYESLENS_EXPLORER=static
    python scripts/execute_book.py "$@"
    ;;
  sync-url)
    python scripts/execute_book.py --sync-url
    ;;
  vendor)
    need npm
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent requirejs@2.3.8 @jupyter-widgets/html-manager@1.0.15 mathjax@3.2.2 >/dev/null)
    for f in "$tmp"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
    cp "$tmp"/requirejs-2.3.8/package/require.js book/vendor/requirejs/
    hm="$tmp"/jupyter-widgets-html-manager-1.0.15/package/dist
    cp "$hm"/embed-amd.js "$hm"/*.woff "$hm"/*.woff2 book/vendor/html-manager/
    cp "$hm"/embed.js.LICENSE.txt book/vendor/html-manager/THIRD-PARTY-NOTICES.txt
    mj="$tmp"/mathjax-3.2.2/package
    cp "$mj"/es5/tex-chtml.js book/vendor/mathjax/
    cp "$mj"/LICENSE book/vendor/mathjax/LICENSE.txt
    rm -rf book/vendor/mathjax/output && mkdir -p book/vendor/mathjax/output/chtml/fonts
    cp -r "$mj"/es5/output/chtml/fonts/woff-v2 book/vendor/mathjax/output/chtml/fonts/
    echo "book/vendor refreshed"
    ;;
  *)
    echo "usage: bash scripts/book.sh {build|serve|execute [NOTEBOOK...]|sync-url|vendor}" >&2
    exit 2
    ;;
esac
