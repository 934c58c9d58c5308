// The README's Jest example (CommonJS, as Jest runs by default).
const { startMailfault } = require('mailfault');
const nodemailer = require('nodemailer');

let mf;
beforeAll(async () => {
  mf = await startMailfault({ scenario: 'version: 1\nclock: virtual\nrules:\n  - { on: rcpt, greylist: { retry_after: 5m } }\nexpect: { delivered: 1, retried_after_temporary: true, min_retry_interval: 5m }\n' });
});
afterAll(() => mf.stop());

test('password reset mail gets through greylisting', async () => {
  const mailer = nodemailer.createTransport({ host: mf.smtpHost, port: mf.smtpPort });
  const mail = { from: 'app@example.test', to: 'user@example.test', subject: 'Reset your password', text: 'Follow the link.' };
  await expect(mailer.sendMail(mail)).rejects.toMatchObject({ responseCode: 450 });
  await mf.advanceClock('5m');
  await mailer.sendMail(mail);
  expect((await mf.waitForMessage('subject:"Reset your password"')).To[0].Address).toBe('user@example.test');
  (await mf.report()).assertPassed();
});
