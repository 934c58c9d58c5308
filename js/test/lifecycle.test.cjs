// CommonJS: require('mailfault'), STARTTLS with the development CA, stop() by PID.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const nodemailer = require('nodemailer');
const { startMailfault, findBinary } = require('mailfault');

test('require() works, tls: true gives a CA file a verifying client can trust', async () => {
  const mf = await startMailfault({ tls: true });
  try {
    assert.equal(mf.smtpHost, '127.0.0.1');
    assert.match(mf.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(fs.readFileSync(mf.caFile, 'utf8').includes('BEGIN CERTIFICATE'));
    const mailer = nodemailer.createTransport({
      host: mf.smtpHost,
      port: mf.smtpPort,
      requireTLS: true,
      tls: { ca: fs.readFileSync(mf.caFile), servername: 'localhost' },
    });
    await mailer.sendMail({ from: 'app@example.test', to: 'user@example.test', subject: 'over tls', text: 'hi' });
    const msg = await mf.waitForMessage('subject:"over tls"');
    assert.ok(msg.TLS, `the message records its TLS session: ${JSON.stringify(msg)}`);
  } finally {
    await mf.stop();
  }
  assert.equal(fs.existsSync(mf.caFile), false, 'the temporary CA is removed on stop()');
});

test('stop() ends the process; two servers get different free ports', async () => {
  const [a, b] = await Promise.all([startMailfault(), startMailfault()]);
  assert.notEqual(a.smtpPort, b.smtpPort);
  assert.notEqual(a.apiUrl, b.apiUrl);
  await a.stop();
  assert.throws(() => process.kill(a.pid, 0), { code: 'ESRCH' });
  assert.doesNotThrow(() => process.kill(b.pid, 0));
  await b.stop();
  await b.stop(); // twice is fine
  await assert.rejects(b.messages(), /the mailfault process has exited/);
});

test('the binary comes from the installed platform package', () => {
  assert.match(findBinary(), /@mailfault[/\\]cli-linux-x64-gnu[/\\]bin[/\\]mailfault$/);
  assert.throws(() => findBinary('/nonexistent/mailfault'), /not an executable file/);
});

test('start-up errors quote the server', async () => {
  await assert.rejects(startMailfault({ scenario: '/nonexistent.yaml' }), /scenario file \/nonexistent\.yaml does not exist/);
  await assert.rejects(startMailfault({ args: ['--no-such-flag'] }), /exited during start-up[\s\S]*no-such-flag/);
});

test('a script that never calls stop() leaves no server behind', async () => {
  const { execFileSync } = require('node:child_process');
  const script = "require('mailfault').startMailfault().then((mf) => console.log(mf.pid))";
  const pid = Number(execFileSync(process.execPath, ['-e', script], { cwd: __dirname, encoding: 'utf8', timeout: 20000 }).trim());
  assert.ok(pid > 0);
  // Gone, or a zombie waiting for a reaper (its parent has exited).
  let state = 'gone';
  try {
    state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1];
  } catch {
    // no such process
  }
  assert.ok(state === 'gone' || state === 'Z', `mailfault ${pid} is still running (state ${state})`);
});

test('without the platform package: MAILFAULT_BIN, then PATH, then an error saying how to fix it', () => {
  const { execFileSync } = require('node:child_process');
  const os = require('node:os');
  const path = require('node:path');
  const installed = path.dirname(require.resolve('mailfault/package.json'));
  const bin = findBinary();
  // A project holding the main package only, as on a platform with no prebuilt binary.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailfault-nobin-'));
  try {
    fs.cpSync(installed, path.join(dir, 'node_modules', 'mailfault'), { recursive: true });
    const onPath = path.join(dir, 'pathbin');
    fs.mkdirSync(onPath);
    fs.symlinkSync(bin, path.join(onPath, 'mailfault'));
    const find = (env) =>
      execFileSync(process.execPath, ['-e', "try { console.log(require('mailfault').findBinary()) } catch (e) { console.log(e.message) }"], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin', ...env },
      }).trim();
    assert.equal(find({ MAILFAULT_BIN: bin }), bin);
    assert.equal(find({ PATH: `${onPath}:/usr/bin:/bin` }), path.join(onPath, 'mailfault'));
    const err = find({});
    assert.match(err, /cannot find the mailfault binary/);
    assert.match(err, /@mailfault\/cli-linux-x64-gnu is not installed; MAILFAULT_BIN is not set; no mailfault on PATH/);
    assert.match(err, /set MAILFAULT_BIN to its path/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
