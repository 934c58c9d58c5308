'use strict';
// mailfault for Node: start the mailfault SMTP server on free 127.0.0.1 ports,
// read what it captured and grade the sender against the scenario's `expect:`.
// No runtime dependencies: node:child_process, node:fs and the global fetch.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert');

const PLATFORM_PACKAGES = {
  'linux-x64': '@mailfault/cli-linux-x64-gnu',
};

const live = new Set();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to the test run, no mailfault process outlives it.
  process.on('exit', () => {
    for (const child of live) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Where the mailfault binary is: option, platform package, MAILFAULT_BIN, PATH. */
function findBinary(explicit) {
  const tried = [];
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new Error(`mailfault: the binary option points at ${explicit}, which is not an executable file; pass the path of a mailfault binary (e.g. target/release/mailfault)`);
  }
  const pkg = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (pkg) {
    try {
      const dir = path.dirname(require.resolve(`${pkg}/package.json`));
      const bin = path.join(dir, 'bin', 'mailfault');
      if (isExecutable(bin)) return bin;
      tried.push(`${pkg} is installed but ${bin} is missing or not executable`);
    } catch {
      tried.push(`${pkg} is not installed`);
    }
  } else {
    tried.push(`no prebuilt package for ${process.platform}-${process.arch}`);
  }
  const env = process.env.MAILFAULT_BIN;
  if (env) {
    if (isExecutable(env)) return env;
    tried.push(`MAILFAULT_BIN=${env} is not an executable file`);
  } else {
    tried.push('MAILFAULT_BIN is not set');
  }
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const bin = path.join(dir, 'mailfault');
    if (isExecutable(bin)) return bin;
  }
  tried.push('no mailfault on PATH');
  throw new Error(
    `mailfault: cannot find the mailfault binary (${tried.join('; ')}). ` +
      `Install it with \`npm install mailfault\` on linux-x64, or \`cargo install mailfault\` and put it on PATH, ` +
      'or set MAILFAULT_BIN to its path.',
  );
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A YAML text contains a newline; anything else is taken as a file path. */
function isYamlText(scenario) {
  return typeof scenario === 'string' && scenario.includes('\n');
}

function durationText(by) {
  if (typeof by === 'number') {
    if (!Number.isFinite(by) || by < 0) throw new TypeError(`mailfault: advanceClock(${by}): give milliseconds >= 0 or a duration such as "5m"`);
    return `${Math.round(by)}ms`;
  }
  if (typeof by === 'string' && by.trim() !== '') return by.trim();
  throw new TypeError(`mailfault: advanceClock(${JSON.stringify(by)}): give milliseconds (a number) or a duration such as "30s" or "5m"`);
}

function formatReport(report) {
  const failed = (report.verdicts || []).filter((v) => !v.passed);
  const lines = [`mailfault expectations FAILED: ${failed.length} of ${(report.verdicts || []).length} verdict(s) failed`];
  for (const v of failed) {
    lines.push(`FAIL  ${v.name}`);
    lines.push(`      expected: ${v.expected}`);
    lines.push(`      found:    ${v.found}`);
    for (const e of v.evidence || []) {
      lines.push(`        [session ${e.session} at ${e.at}] ${e.line}`);
      if (e.why) lines.push(`            ${e.why}`);
    }
  }
  return lines.join('\n');
}

function withAssert(report) {
  Object.defineProperty(report, 'assertPassed', {
    enumerable: false,
    value() {
      if (report.passed) return;
      const failed = (report.verdicts || []).filter((v) => !v.passed);
      throw new assert.AssertionError({
        message: formatReport(report),
        actual: failed.map((v) => v.name),
        expected: [],
        operator: 'assertPassed',
      });
    },
  });
  Object.defineProperty(report, 'failed', {
    enumerable: false,
    get: () => (report.verdicts || []).filter((v) => !v.passed),
  });
  return report;
}

class Mailfault {
  constructor(child, info) {
    this.process = child;
    this.pid = child.pid;
    this.smtpHost = info.smtpHost;
    this.smtpPort = info.smtpPort;
    this.smtpUrl = `smtp://${info.smtpHost}:${info.smtpPort}`;
    this.apiUrl = info.apiUrl;
    this.caFile = info.caFile;
    this.binary = info.binary;
    this._stderr = info.stderr;
    this._exited = info.exited;
    this._ownCertsDir = info.ownCertsDir;
  }

  async _request(method, route, { body, headers, okStatus } = {}) {
    let res;
    try {
      res = await fetch(this.apiUrl + route, { method, body, headers });
    } catch (err) {
      const why = this.process.exitCode !== null || this.process.signalCode !== null ? ' (the mailfault process has exited; was stop() called?)' : '';
      throw new Error(`mailfault: ${method} ${route} failed: ${err.cause?.message || err.message}${why}`);
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!(okStatus || [200]).includes(res.status)) {
      const detail = json && json.error ? json.error : text;
      const err = new Error(`mailfault: ${method} ${route} answered ${res.status}: ${detail}`);
      err.status = res.status;
      err.body = json ?? text;
      throw err;
    }
    return { status: res.status, json, text };
  }

  /** Captured messages, newest first (Mailpit's list shape). */
  async messages({ start = 0, limit = 50 } = {}) {
    return (await this._request('GET', `/api/v1/messages?start=${start}&limit=${limit}`)).json.messages;
  }

  /** One message in full (Text, HTML, Attachments...); id or "latest". */
  async message(id = 'latest') {
    return (await this._request('GET', `/api/v1/message/${encodeURIComponent(id)}`)).json;
  }

  /** Messages matching a Mailpit search (`to:user@example.test subject:"Reset"`). */
  async search(query) {
    return (await this._request('GET', `/api/v1/search?query=${encodeURIComponent(query)}`)).json.messages;
  }

  /** Waits until a message matches the search and returns it (newest match). */
  async waitForMessage(query = '', { timeout = 10000, interval = 50 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = query ? await this.search(query) : await this.messages({ limit: 1 });
      if (found.length > 0) return found[0];
      if (Date.now() >= deadline) {
        const held = await this.messages({ limit: 5 });
        const list = held.map((m) => `#${m.ID} to ${m.To.map((t) => t.Address).join(', ')} "${m.Subject}"`).join('; ');
        throw new Error(
          `mailfault: no message matched ${JSON.stringify(query)} within ${timeout} ms; ` +
            (held.length ? `newest held: ${list}` : 'no message was captured at all (is the sender pointed at ' + this.smtpUrl + '?)'),
        );
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  /** SMTP sessions (GET /api/v1/sessions), newest first. */
  async sessions() {
    return (await this._request('GET', '/api/v1/sessions')).json.sessions;
  }

  /** One session with its transcript and typed events. */
  async session(id) {
    return (await this._request('GET', `/api/v1/sessions/${encodeURIComponent(id)}`)).json;
  }

  /** Swaps the scenario: YAML text, or a path to a YAML file. */
  async setScenario(scenario) {
    const yaml = isYamlText(scenario) ? scenario : readScenarioFile(scenario);
    return (await this._request('PUT', '/api/v1/scenario', { body: yaml, headers: { 'content-type': 'application/yaml' } })).json;
  }

  /** Forgets messages, sessions and rule state (greylist tables, counters, clock). */
  async reset() {
    return (await this._request('POST', '/api/v1/reset')).json;
  }

  /** Moves a `clock: virtual` scenario's clock: "5m", "30s" or milliseconds. */
  async advanceClock(by) {
    return (
      await this._request('POST', '/api/v1/clock/advance', {
        body: JSON.stringify({ by: durationText(by) }),
        headers: { 'content-type': 'application/json' },
      })
    ).json;
  }

  /**
   * The scenario's `expect:` verdicts; `.assertPassed()` throws an AssertionError listing the failures.
   * The server judges finished sessions only, and a session the client has just
   * hung up on can still be open there for a moment; so this first waits (up to
   * `settle` ms, default 2000) until no session is open.
   */
  async report({ settle = 2000 } = {}) {
    const deadline = Date.now() + settle;
    while (settle > 0) {
      const open = (await this.sessions()).filter((s) => s.open);
      if (open.length === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return withAssert((await this._request('GET', '/api/v1/report')).json);
  }

  /** Stops the server (SIGTERM, SIGKILL after `timeout` ms) and waits for it to exit. */
  async stop({ timeout = 5000 } = {}) {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, timeout);
      await this._exited;
      clearTimeout(timer);
    }
    live.delete(this.process);
    if (this._ownCertsDir) {
      // the temporary CA made for `tls: true` goes with the server
      fs.rmSync(this._ownCertsDir, { recursive: true, force: true });
      this._ownCertsDir = undefined;
    }
  }
}

function readScenarioFile(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`mailfault: cannot read scenario file ${file}: ${err.message}; pass a path to a YAML file, or the YAML text itself`);
  }
}

/**
 * Starts `mailfault serve` on free 127.0.0.1 ports and resolves once it is ready.
 * @param {{scenario?: string, tls?: boolean, binary?: string, certsDir?: string, args?: string[], env?: object, startTimeout?: number}} [options]
 */
async function startMailfault(options = {}) {
  const { scenario, tls = false, binary, certsDir, args = [], env, startTimeout = 15000 } = options;
  const bin = findBinary(binary);
  const argv = ['serve', '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0'];
  // JSON logs on stderr: no terminal colours in the start-up errors quoted below.
  if (!args.some((a) => a.startsWith('--log-format'))) argv.push('--log-format', 'json');
  let scenarioText;
  if (scenario !== undefined && scenario !== null) {
    if (isYamlText(scenario)) {
      scenarioText = scenario;
    } else {
      if (!fs.existsSync(scenario)) {
        throw new Error(`mailfault: scenario file ${path.resolve(String(scenario))} does not exist; pass a path to a YAML file, or the YAML text itself`);
      }
      argv.push('--scenario', scenario);
    }
  }
  let caDir;
  if (tls) {
    caDir = certsDir || fs.mkdtempSync(path.join(os.tmpdir(), 'mailfault-certs-'));
    argv.push('--tls', 'auto', '--certs-dir', caDir);
  }
  argv.push(...args);

  installExitHook();
  const child = spawn(bin, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => live.delete(child));

  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-8000);
  });

  const info = await new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`mailfault: ${why}\ncommand: ${bin} ${argv.join(' ')}\n${stderr.trim() ? 'stderr:\n' + stderr.trim() : '(no stderr)'}`));
    };
    const timer = setTimeout(() => fail(`the server did not print its addresses within ${startTimeout} ms`), startTimeout);
    const onError = (err) => fail(`could not start ${bin}: ${err.message}`);
    const onExit = (code, signal) =>
      // stderr may still be arriving; give it a moment so the error can quote it
      setTimeout(() => fail(`the server exited during start-up (${signal ? 'signal ' + signal : 'exit code ' + code}); see its stderr below`), 50);
    child.once('error', onError);
    child.once('exit', onExit);
    child.stdout.on('data', (d) => {
      stdout += d;
      const smtp = /smtp:\/\/([\d.]+):(\d+)/.exec(stdout);
      const http = /(http:\/\/[\d.]+:\d+)\//.exec(stdout);
      const ready = /press Ctrl-C/.test(stdout);
      if (smtp && http && ready) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        child.removeListener('error', onError);
        const ca = /trust the development CA (\S+)/.exec(stdout);
        resolve({
          smtpHost: smtp[1],
          smtpPort: Number(smtp[2]),
          apiUrl: http[1],
          caFile: tls ? (ca ? ca[1] : path.join(caDir, 'ca.pem')) : undefined,
          binary: bin,
        });
      }
    });
  });
  child.stdout.resume();
  // Let a test run end even if stop() is forgotten; the exit hook kills the server.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();

  const mf = new Mailfault(child, { ...info, stderr: () => stderr, exited, ownCertsDir: tls && !certsDir ? caDir : undefined });
  const deadline = Date.now() + startTimeout;
  for (;;) {
    try {
      const res = await fetch(mf.apiUrl + '/readyz');
      if (res.status === 200) break;
    } catch {
      // not accepting yet
    }
    if (Date.now() > deadline) {
      await mf.stop();
      throw new Error(`mailfault: ${mf.apiUrl}/readyz did not answer 200 within ${startTimeout} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (scenarioText !== undefined) {
    try {
      await mf.setScenario(scenarioText);
    } catch (err) {
      await mf.stop();
      throw err;
    }
  }
  return mf;
}

module.exports = { startMailfault, findBinary, formatReport, Mailfault };
module.exports.default = module.exports;
