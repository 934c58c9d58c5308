#!/usr/bin/env bash
# Builds the Python wheel (the mailfault executable + the mailfault package),
# installs it into a fresh virtualenv and runs python/tests against the
# *installed* package: the tests are copied out of the source tree first, so
# `import mailfault` can only come from the wheel. Fails when any test fails
# or when no test ran.
#
#   bash python/ci.sh            (from the repository root or anywhere)
#
# Reuses the repository's target/ (CARGO_TARGET_DIR) so the release build
# `cargo build --release` already made is not compiled a second time.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
  echo "python/ci.sh: needs Python >= 3.9 as '$python' (set PYTHON=/path/to/python3)" >&2
  exit 2
fi
if ! "$python" -m venv --help >/dev/null 2>&1; then
  echo "python/ci.sh: '$python -m venv' is unavailable; install the venv module (Debian: apt-get install python3-venv)" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/mailfault-pyci.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "-- build tools venv ($work/build-venv): maturin"
"$python" -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.5,<2'

# On Linux the executable is linked statically (glibc crt-static), stripped,
# without debug info: the wheel then runs on any glibc (manylinux_2_5 tag,
# not just the build host's glibc), and the settings equal those of
# scripts/container.sh, so the two builds share every compiled dependency in
# target/ and only the mailfault crate is compiled twice.
build_args=(build --release --out "$work/dist")
if [ "$(uname -s)" = Linux ] && [ -z "${MAILFAULT_WHEEL_DYNAMIC:-}" ]; then
  host="$(rustc -vV | sed -n 's/^host: //p')"
  case "$host" in
    *-linux-gnu)
      export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols
      export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static"
      build_args+=(--target "$host")
      ;;
  esac
fi
echo "-- maturin ${build_args[*]} (RUSTFLAGS=${RUSTFLAGS:-})"
(cd "$repo/python" && "$work/build-venv/bin/maturin" "${build_args[@]}")
wheels=("$work"/dist/mailfault-*.whl)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "python/ci.sh: expected exactly one wheel in $work/dist, found: ${wheels[*]}" >&2
  exit 1
fi
wheel="${wheels[0]}"
echo "   $(basename "$wheel"): $(du -h "$wheel" | cut -f1)"

echo "-- fresh venv ($work/venv): the wheel, pytest, django, mypy"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" pytest django mypy

echo "-- tests copied to $work/run (away from the source tree)"
mkdir -p "$work/run"
cp -R "$repo/python/tests" "$work/run/tests"
cp -R "$repo/scenarios" "$work/run/scenarios"
find "$work/run" -name '__pycache__' -prune -exec rm -rf {} +

cd "$work/run"
# No MAILFAULT_BIN: the executable must come from the wheel.
unset MAILFAULT_BIN
where="$("$work/venv/bin/python" -c 'import mailfault, os; print(os.path.dirname(mailfault.__file__))')"
case "$where" in
  "$work/venv/"*) echo "   mailfault imported from $where" ;;
  *) echo "python/ci.sh: mailfault was imported from $where, not from the installed wheel" >&2; exit 1 ;;
esac

echo "-- mypy --strict on the installed package (type hints throughout)"
"$work/venv/bin/python" -m mypy --strict --no-incremental -p mailfault

echo "-- pytest"
set +e
MAILFAULT_TEST_SCENARIOS="$work/run/scenarios" "$work/venv/bin/python" -m pytest -p no:cacheprovider -ra tests
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "python/ci.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "python/ci.sh: pytest failed (exit $status)" >&2
fi
exit "$status"
