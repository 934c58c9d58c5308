import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { startMailfault } from 'mailfault';
import { transport, scenarioFile, resetMail } from './helpers.mjs';

let mf;
before(async () => {
  // scenarios/unknown-user.yaml: 550 5.1.1 for *@nowhere.example.test;
  // expect: no_retry_after_permanent, quit.
  mf = await startMailfault({ scenario: scenarioFile('unknown-user.yaml') });
});
after(() => mf.stop());

test('nodemailer.createTransport: 550 5.1.1 drops one recipient, and the report catches the missing QUIT', async () => {
  await mf.reset();
  const info = await transport(mf).sendMail({ ...resetMail, to: ['user@example.test', 'ghost@nowhere.example.test'] });
  assert.deepEqual(info.accepted, ['user@example.test']);
  assert.deepEqual(info.rejected, ['ghost@nowhere.example.test']);
  assert.match(info.rejectedErrors[0].response, /^550 5\.1\.1 /);

  const msg = await mf.waitForMessage('to:user@example.test');
  assert.deepEqual(msg.Envelope.To, ['user@example.test']);
  assert.equal((await mf.messages()).length, 1);
  const [summary] = await mf.sessions();
  const session = await mf.session(summary.id);
  assert.match(JSON.stringify(session.transcript), /550 5\.1\.1/);

  // nodemailer's transport hangs up after the 250 without sending QUIT
  // (smtp-transport calls connection.close(), not quit()), which the
  // scenario's `quit: true` expectation flags. The 5xx was not retried.
  const report = await mf.report();
  assert.deepEqual(
    report.verdicts.map((v) => [v.name, v.passed]),
    [
      ['no_retry_after_permanent', true],
      ['quit', false],
    ],
  );
  assert.throws(() => report.assertPassed(), /FAIL {2}quit[\s\S]*\[session \d+ at [\d.]+s\] C: DATA[\s\S]*without QUIT/);
});

test('nodemailer SMTPConnection that says QUIT and drops the 5xx recipient passes', async () => {
  await mf.reset();
  const conn = new SMTPConnection({ host: mf.smtpHost, port: mf.smtpPort, ignoreTLS: true });
  await new Promise((resolve, reject) => {
    conn.once('error', reject);
    conn.connect(resolve);
  });
  const info = await new Promise((resolve, reject) =>
    conn.send(
      { from: 'app@example.test', to: ['user@example.test', 'ghost@nowhere.example.test'] },
      'From: app@example.test\r\nTo: user@example.test\r\nSubject: Welcome\r\n\r\nHello.\r\n',
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
  assert.deepEqual(info.accepted, ['user@example.test']);
  assert.deepEqual(info.rejected, ['ghost@nowhere.example.test']);
  await new Promise((resolve) => {
    conn.once('end', resolve);
    conn.quit();
  });
  await mf.waitForMessage('subject:Welcome');
  const report = await mf.report();
  report.assertPassed();
  assert.equal(report.verdicts.length, 2);
});

test('a sender that retries the 5xx fails no_retry_after_permanent', async () => {
  await mf.reset();
  const mailer = transport(mf);
  for (let i = 0; i < 2; i++) {
    const err = await mailer.sendMail({ ...resetMail, to: 'ghost@nowhere.example.test' }).then(() => null, (e) => e);
    assert.equal(err?.responseCode, 550);
  }
  const report = await mf.report();
  assert.ok(report.failed.some((v) => v.name === 'no_retry_after_permanent'));
  assert.throws(() => report.assertPassed(), /FAIL {2}no_retry_after_permanent[\s\S]*\[session \d+ at [\d.]+s\] S: 550 5\.1\.1/);
});

test('setScenario swaps the rules and reports YAML problems with line and column', async () => {
  await assert.rejects(mf.setScenario('version: 1\nbogus: 1\n'), /400: scenario rejected.*line 2, column 1.*unknown field `bogus`/);
  const swapped = await mf.setScenario('version: 1\nname: gone\nrules:\n  - { on: rcpt, reply: 550 5.1.1 No such user }\n');
  assert.equal(swapped.name, 'gone');
  const err = await transport(mf).sendMail(resetMail).then(() => null, (e) => e);
  assert.equal(err?.responseCode, 550);
  await assert.rejects(mf.advanceClock('5m'), /409/);
});
