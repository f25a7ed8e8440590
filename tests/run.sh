#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need,
# checks formatting and lints, runs the Rust unit tests, builds the portable
# wheel and checks it in a fresh venv without cargo, builds and installs the
# sdist, builds the docs (warnings are errors), and runs pytest against the
# installed wheel.
#
# Environment: PYTHON (default python3), CARGO_TARGET_DIR (default ./target),
# PYTEST_ARGS (extra pytest arguments, e.g. "-m 'not slow'" for a quick loop).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
step() { printf '\n== %s\n' "$*"; }

step "python tools"
# pip >= 25.1 installs PEP 735 dependency groups (--group); zig links the portable wheel
"$PYTHON" -m pip install --quiet --disable-pip-version-check 'pip>=25.1' 'maturin>=1.16,<2' ziglang

step "services: InfluxDB 1.x for the export tests, Chromium for the HTML report (Debian's packages)"
missing=""
command -v influxd >/dev/null 2>&1 || missing="$missing influxdb"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
if [ -n "$missing" ]; then
  sudo_if_needed=""
  [ "$(id -u)" = 0 ] || sudo_if_needed="sudo"
  $sudo_if_needed apt-get update -qq
  # shellcheck disable=SC2086  # the package names, one word each
  DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq $missing >/dev/null
fi
influxd version
chromium --version

step "rust: fmt, clippy, unit tests"
cargo fmt --check
cargo clippy --all-targets --all-features --quiet -- -D warnings
# the core alone: the binding layer (feature `python`) is what maturin builds
cargo test --quiet

step "wheel: build the portable wheel, check it as users get it, install it"
# What users install: abi3, manylinux2014 (glibc 2.17), linked with zig; the release
# profile (no LTO) keeps rebuilds fast (published wheels: .ci/release, --profile dist).
# A zig build does not reuse a plain one's artifacts: every build here uses zig.
zig_build=(--zig --compatibility manylinux2014)
rm -rf "$CARGO_TARGET_DIR/wheels"
"$PYTHON" -m maturin build --release "${zig_build[@]}" --out "$CARGO_TARGET_DIR/wheels"
wheel=$(ls "$CARGO_TARGET_DIR"/wheels/dwcp_data-*.whl)
# tag, glibc symbols, auditwheel; a fresh venv without cargo runs the README's main command
bash .ci/check-wheel "$wheel"
"$PYTHON" -m pip install --quiet --disable-pip-version-check "$wheel" --group test --group docs
"$PYTHON" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

step "sdist: builds and installs from source (with cargo)"
"$PYTHON" -m maturin sdist --out "$CARGO_TARGET_DIR/wheels"
sdist=$(ls "$CARGO_TARGET_DIR"/wheels/dwcp_data-*.tar.gz)
sdist_env=$(mktemp -d)
"$PYTHON" -m venv "$sdist_env/venv"
"$sdist_env/venv/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.16,<2' ziglang
# the same build flags as the wheel above, so that cargo reuses its compiled dependencies
MATURIN_PEP517_ARGS="${zig_build[*]}" "$sdist_env/venv/bin/python" -m pip install --quiet \
  --disable-pip-version-check --no-build-isolation "$sdist"
"$sdist_env/venv/bin/python" -c "import dwcp_data; print('sdist: dwcp_data', dwcp_data.__version__)"
rm -rf "$sdist_env"

step "python: ruff, mypy --strict, stubtest, the docs, pytest"
"$PYTHON" -m ruff check python tests benchmarks docs/check_api.py
"$PYTHON" -m ruff format --check python tests benchmarks docs/check_api.py
# the package's types, and the stubs of the compiled core against the built module
"$PYTHON" -m mypy --config-file pyproject.toml python/dwcp_data
(cd "$(mktemp -d)" && "$PYTHON" -m mypy.stubtest dwcp_data._core)
# the documentation site: warnings are errors; every public name in its API reference
site=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 "$PYTHON" -m mkdocs build --strict --quiet -d "$site"
"$PYTHON" docs/check_api.py "$site"
rm -rf "$site"
# run from an empty folder so that `import dwcp_data` is the installed wheel, never the source tree
cd "$(mktemp -d)"
# shellcheck disable=SC2086
"$PYTHON" -m pytest "$OLDPWD/tests" -c "$OLDPWD/pyproject.toml" --rootdir "$OLDPWD" ${PYTEST_ARGS:-}
