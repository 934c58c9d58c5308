// Shared by the tests: where the repository's scenarios are, and a nodemailer
// transport pointed at a running mailfault.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';

// js/ci.sh copies the tests out of the source tree and sets MAILFAULT_SCENARIOS.
export const scenariosDir = process.env.MAILFAULT_SCENARIOS || join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scenarios');

export const scenarioFile = (name) => join(scenariosDir, name);

/** A scenario from scenarios/ with `clock: virtual`, so "retry after 30 s" can be tested without waiting. */
export function withVirtualClock(name) {
  const yaml = readFileSync(scenarioFile(name), 'utf8');
  if (!/^version: 1$/m.test(yaml)) throw new Error(`${name} has no "version: 1" line to put "clock: virtual" after`);
  return yaml.replace(/^version: 1$/m, 'version: 1\nclock: virtual');
}

export function transport(mf, extra = {}) {
  return nodemailer.createTransport({
    host: mf.smtpHost,
    port: mf.smtpPort,
    secure: false,
    ignoreTLS: true,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
    ...extra,
  });
}

export const resetMail = {
  from: 'App <app@example.test>',
  to: 'user@example.test',
  subject: 'Reset your password',
  text: 'Follow the link to reset your password.',
};
