#!/usr/bin/env node
// Sets "version" in both package.json files, and the optionalDependencies pin
// on the platform package, from the [package] version in ../../Cargo.toml:
// the crate's version is the only place a version is written by hand.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const js = dirname(dirname(fileURLToPath(import.meta.url)));
const cargoToml = join(js, '..', 'Cargo.toml');
const cargo = readFileSync(cargoToml, 'utf8');
const pkgSection = /^\[package\]\s*$([\s\S]*?)(?=^\[|$(?![\s\S]))/m.exec(cargo);
const version = pkgSection && /^version\s*=\s*"([^"]+)"/m.exec(pkgSection[1])?.[1];
if (!version) {
  console.error(`set-version: no version = "..." under [package] in ${cargoToml}; add one there (it is the only source of the npm versions)`);
  process.exit(1);
}

const PLATFORM = '@mailfault/cli-linux-x64-gnu';
const files = [join(js, 'packages', 'mailfault', 'package.json'), join(js, 'packages', 'cli-linux-x64-gnu', 'package.json')];
for (const file of files) {
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  pkg.version = version;
  if (pkg.optionalDependencies && PLATFORM in pkg.optionalDependencies) pkg.optionalDependencies[PLATFORM] = version;
  writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
}
console.log(`set-version: npm packages at ${version} (from Cargo.toml)`);
