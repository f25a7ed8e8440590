#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need,
# checks formatting and lints, runs the Rust unit tests, builds the wheel,
# installs it, and runs pytest against the installed package.
#
# Environment: PYTHON (default python3), CARGO_TARGET_DIR (default ./target),
# PYTEST_ARGS (extra pytest arguments, e.g. "-m 'not slow'" for a quick loop).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
step() { printf '\n== %s\n' "$*"; }

step "python tools"
"$PYTHON" -m pip install --quiet --disable-pip-version-check 'maturin>=1.16,<2'

step "services: InfluxDB 1.x for the export tests (Debian's influxdb package)"
if ! command -v influxd >/dev/null 2>&1; then
  sudo_if_needed=""
  [ "$(id -u)" = 0 ] || sudo_if_needed="sudo"
  $sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq influxdb >/dev/null
fi
influxd version

step "rust: fmt, clippy, unit tests"
cargo fmt --check
cargo clippy --all-targets --all-features --quiet -- -D warnings
# the core alone: the binding layer (feature `python`) is what maturin builds
cargo test --quiet

step "wheel: build and install"
# The release profile (no LTO) keeps rebuilds fast; published wheels use --profile dist.
rm -rf "$CARGO_TARGET_DIR/wheels"
"$PYTHON" -m maturin build --release --out "$CARGO_TARGET_DIR/wheels"
wheel=$(ls "$CARGO_TARGET_DIR"/wheels/dwcp_data-*.whl)
"$PYTHON" -m pip install --quiet --disable-pip-version-check "${wheel}[test]"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

step "python: ruff, mypy --strict, stubtest, pytest"
"$PYTHON" -m ruff check python tests benchmarks
"$PYTHON" -m ruff format --check python tests benchmarks
# the package's types, and the stubs of the compiled core against the built module
"$PYTHON" -m mypy --config-file pyproject.toml python/dwcp_data
(cd "$(mktemp -d)" && "$PYTHON" -m mypy.stubtest dwcp_data._core)
# run from an empty folder so that `import dwcp_data` is the installed wheel, never the source tree
cd "$(mktemp -d)"
# shellcheck disable=SC2086
"$PYTHON" -m pytest "$OLDPWD/tests" -c "$OLDPWD/pyproject.toml" --rootdir "$OLDPWD" ${PYTEST_ARGS:-}
