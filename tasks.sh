#!/usr/bin/env bash
# bayeslens tasks: one entry point for the README's commands.
#
#   bash tasks.sh book      install, build the book from its stored outputs, serve it locally
#   bash tasks.sh build     install, build the book only (into _build/html)
#   bash tasks.sh test      install, lint, type-check, build the book, run every test
#   bash tasks.sh execute   re-execute every chapter and store fresh outputs + widget state
#   bash tasks.sh bench     the benchmarks (exact posterior; PFN training step)
#
# Everything installs into ./.venv from requirements.txt (pinned; CPU torch). Set
# BAYESLENS_PYTHON to choose the interpreter (default: python3, 3.10 or newer).
set -euo pipefail
cd "$(dirname "$0")"

setup_env() {
    local py="${BAYESLENS_PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        "$py" -m venv .venv
    fi
    # shellcheck disable=SC1091
    . .venv/bin/activate
    local stamp=.venv/.requirements.sha256
    local want
    want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        python -m pip install --quiet --upgrade pip
        python -m pip install --quiet -r requirements.txt
        echo "$want" > "$stamp"
    fi
}

book_script() {
    if [ -f scripts/book.sh ]; then
        bash scripts/book.sh "$@"
    else
        echo "tasks.sh: scripts/book.sh is missing" >&2
        return 1
    fi
}

case "${1:-}" in
    book)
        setup_env
        book_script serve
        ;;
    build)
        setup_env
        book_script build
        ;;
    test)
        setup_env
        echo "== ruff"; ruff check bayeslens tests benchmarks book
        echo "== mypy"; mypy
        echo "== book build"; book_script build
        echo "== pytest"
        python -m pytest tests book --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
            -p no:cacheprovider "${@:2}"
        ;;
    execute)
        setup_env
        book_script execute
        ;;
    bench)
        setup_env
        python benchmarks/bench_posterior.py "${@:2}"
        if [ -f benchmarks/bench_train.py ]; then python benchmarks/bench_train.py; fi
        ;;
    *)
        sed -n '2,12p' "$0"
        exit 2
        ;;
esac
