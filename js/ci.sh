#!/usr/bin/env bash
# Tests the npm packages as a user gets them: builds the release binary,
# stages it into the platform package, `npm pack`s both packages, installs the
# two tarballs plus nodemailer into a fresh project outside the source tree and
# runs the tests there with `node --test`, so `import "mailfault"` can only
# resolve to the installed tarball. Exits non-zero when anything fails.
#
# MAILFAULT_JS_KEEP=1 keeps the temporary directory for a look afterwards.
set -euo pipefail
js="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$js")"

for tool in node npm cargo; do
  command -v "$tool" >/dev/null || { echo "js/ci.sh: $tool is not installed; install it (Debian: apt-get install nodejs npm; Rust: rustup)" >&2; exit 1; }
done
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
  || { echo "js/ci.sh: Node $(node --version) is too old; mailfault needs Node >= 18 (global fetch)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/mailfault-js-ci.XXXXXX")"
cleanup() { if [ "${MAILFAULT_JS_KEEP:-}" = 1 ]; then echo "js/ci.sh: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

echo "-- versions from Cargo.toml"
node "$js/scripts/set-version.mjs"
version="$(node -p 'require(process.argv[1]).version' "$js/packages/mailfault/package.json")"

echo "-- release binary"
# MAILFAULT_JS_BINARY: a binary already built (CI passes the static one the
# container build made, so the crate is not compiled in release twice).
if [ -n "${MAILFAULT_JS_BINARY:-}" ]; then
  binary=$MAILFAULT_JS_BINARY
else
  (cd "$root" && cargo build --release --locked --quiet)
  binary="$root/target/release/mailfault"
fi
bash "$js/scripts/stage-binary.sh" "$binary"

echo "-- npm pack"
mkdir -p "$work/tarballs"
(cd "$js/packages/cli-linux-x64-gnu" && npm pack --silent --pack-destination "$work/tarballs" >/dev/null)
(cd "$js/packages/mailfault" && npm pack --silent --pack-destination "$work/tarballs" >/dev/null)
cli_tgz="$work/tarballs/mailfault-cli-linux-x64-gnu-$version.tgz"
main_tgz="$work/tarballs/mailfault-$version.tgz"
ls -l "$cli_tgz" "$main_tgz"

echo "-- fresh project: npm install the tarballs, nodemailer, jest, vitest and typescript"
app="$work/app"
mkdir -p "$app/test"
cat >"$app/package.json" <<JSON
{ "name": "mailfault-install-test", "private": true, "version": "0.0.0" }
JSON
# The platform package is installed from its tarball first, so the main
# package's optionalDependencies pin is satisfied without the registry.
(cd "$app" && npm install --no-audit --no-fund --loglevel=error "$cli_tgz" "$main_tgz" nodemailer@6 jest@29 vitest@2 typescript@5 @types/node@20)
cp "$js"/test/*.mjs "$js"/test/*.cjs "$app/test/"
cp -r "$js/test/frameworks" "$js/test/types" "$app/test/"
cp -r "$root/scenarios" "$app/" # the README examples name scenarios/... relative to the project
resolved="$(cd "$app" && node -p 'require.resolve("mailfault") + " " + require.resolve("@mailfault/cli-linux-x64-gnu/package.json")')"
case "$resolved" in
  "$app/node_modules/mailfault/index.cjs $app/node_modules/@mailfault/cli-linux-x64-gnu/package.json") ;;
  *) echo "js/ci.sh: mailfault resolved to $resolved, not to the installed tarballs" >&2; exit 1 ;;
esac

echo "-- node --test (in $app)"
cd "$app"
export MAILFAULT_SCENARIOS="$app/scenarios" MAILFAULT_BIN=
node --test test/*.test.mjs test/*.test.cjs test/frameworks/password-reset.node.test.mjs

echo "-- the README's Jest and Vitest examples"
npx --no-install jest --ci test/frameworks/password-reset.jest
npx --no-install vitest run test/frameworks/password-reset.vitest
echo "-- the README's five lines (after its npm install, which these tarballs stand in for)"
five="$(awk '/^## Node:/{n=1} n&&/^```sh$/{b=1;next} b&&/^```$/{exit} b' "$root/README.md")"
[ "$(printf '%s\n' "$five" | wc -l)" = 5 ] || { echo "js/ci.sh: the README's Node section should open with a five-line sh block" >&2; exit 1; }
out="$(printf '%s\n' "$five" | tail -n +2 | bash 2>&1)" || { echo "$out" >&2; exit 1; }
echo "$out"
grep -q '^first try: 450 4.2.0' <<<"$out" && grep -q 'FAIL  retried_after_temporary' <<<"$out" \
  || { echo "js/ci.sh: the README's five lines did not print the 450 and the failed verdict" >&2; exit 1; }
echo "-- TypeScript: both entries' types (tsc, module nodenext)"
npx --no-install tsc -p test/types
echo "js/ci.sh: the installed packages pass"
