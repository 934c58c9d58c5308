// The README's node:test example (js/ci.sh runs it with the cwd holding scenarios/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMailfault } from 'mailfault';
import nodemailer from 'nodemailer';

let mf;
before(async () => { mf = await startMailfault({ scenario: 'scenarios/unknown-user.yaml' }); });
after(() => mf.stop());

test('mail to a missing user is rejected, the rest delivered', async () => {
  const mailer = nodemailer.createTransport({ host: mf.smtpHost, port: mf.smtpPort });
  const info = await mailer.sendMail({ from: 'app@example.test', to: ['user@example.test', 'ghost@nowhere.example.test'], subject: 'Welcome', text: 'Hello.' });
  assert.deepEqual(info.rejected, ['ghost@nowhere.example.test']);
  assert.equal((await mf.waitForMessage('to:user@example.test')).Subject, 'Welcome');
  const report = await mf.report();
  assert.ok(report.verdicts.find((v) => v.name === 'no_retry_after_permanent').passed);
});
