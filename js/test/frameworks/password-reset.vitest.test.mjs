// The README's Vitest example (js/ci.sh runs it with the cwd holding scenarios/).
import { test, expect, beforeAll, afterAll } from 'vitest';
import { startMailfault } from 'mailfault';
import nodemailer from 'nodemailer';

let mf;
beforeAll(async () => { mf = await startMailfault({ scenario: 'scenarios/unknown-user.yaml' }); });
afterAll(() => mf.stop());

test('mail to a missing user is dropped, the rest delivered', async () => {
  const mailer = nodemailer.createTransport({ host: mf.smtpHost, port: mf.smtpPort });
  const info = await mailer.sendMail({ from: 'app@example.test', to: ['user@example.test', 'ghost@nowhere.example.test'], subject: 'Welcome', text: 'Hello.' });
  expect(info.rejected).toEqual(['ghost@nowhere.example.test']);
  expect(await mf.waitForMessage('to:user@example.test')).toMatchObject({ Subject: 'Welcome' });
  expect((await mf.report()).verdicts.find((v) => v.name === 'no_retry_after_permanent').passed).toBe(true);
});
