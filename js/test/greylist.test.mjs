import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startMailfault } from 'mailfault';
import { transport, withVirtualClock, resetMail } from './helpers.mjs';

let mf;
before(async () => {
  // scenarios/greylist.yaml: 450 4.2.0 on the first attempt, a retry 30 s later passes.
  mf = await startMailfault({ scenario: withVirtualClock('greylist.yaml') });
});
after(() => mf.stop());

test('a sender that retries the greylist after 30 s delivers and passes the report', async () => {
  await mf.reset();
  const mailer = transport(mf);

  const first = await mailer.sendMail(resetMail).then(
    () => assert.fail('the first attempt should be greylisted'),
    (err) => err,
  );
  assert.equal(first.responseCode, 450, first.message);
  assert.match(first.response, /4\.2\.0 Greylisted/);
  assert.equal((await mf.messages()).length, 0);

  await mf.advanceClock('30s'); // virtual time: no real waiting
  const info = await mailer.sendMail(resetMail);
  assert.deepEqual(info.accepted, ['user@example.test']);

  const msg = await mf.waitForMessage('to:user@example.test subject:"Reset your password"', { timeout: 5000 });
  assert.equal(msg.Subject, 'Reset your password');
  assert.deepEqual(msg.From, { Name: 'App', Address: 'app@example.test' });
  assert.deepEqual(msg.Envelope.To, ['user@example.test']);
  const full = await mf.message(msg.ID);
  assert.match(full.Text, /reset your password/);

  const report = await mf.report();
  report.assertPassed();
  assert.deepEqual(
    report.verdicts.map((v) => [v.name, v.passed]),
    [
      ['delivered', true],
      ['retried_after_temporary', true],
      ['min_retry_interval', true],
    ],
  );
});

test('an impatient sender fails the report with evidence in the AssertionError', async () => {
  await mf.reset();
  const mailer = transport(mf);
  for (let i = 0; i < 3; i++) {
    // retries at once, three times, then gives up
    const err = await mailer.sendMail(resetMail).then(() => null, (e) => e);
    assert.equal(err?.responseCode, 450);
  }
  const report = await mf.report();
  assert.equal(report.passed, false);
  assert.deepEqual(
    report.failed.map((v) => v.name),
    ['delivered', 'retried_after_temporary', 'min_retry_interval'],
  );
  assert.throws(
    () => report.assertPassed(),
    (err) => {
      assert.ok(err instanceof assert.AssertionError, 'an AssertionError from node:assert');
      assert.match(err.message, /FAIL {2}delivered/);
      assert.match(err.message, /FAIL {2}min_retry_interval/);
      assert.match(err.message, /expected: every retry after a 4xx comes at least 30s after it/);
      assert.match(err.message, /\[session \d+ at [\d.]+s\] S: 450 4\.2\.0 Greylisted/);
      assert.match(err.message, /\[session \d+ at [\d.]+s\] C: RCPT TO:<user@example\.test>/i);
      assert.match(err.message, /retried after 0\.0+s, sooner than 30/);
      assert.match(err.message, /FAIL {2}retried_after_temporary[\s\S]*never tried again/);
      return true;
    },
  );
});

test('waitForMessage says what it held when nothing matches', async () => {
  await mf.reset();
  await assert.rejects(mf.waitForMessage('subject:nothing-like-this', { timeout: 200 }), /no message matched "subject:nothing-like-this" within 200 ms; no message was captured at all/);
});

test('report() right after the sender hangs up judges that session (no vacuous pass)', async () => {
  // The server judges finished sessions only; report() waits for open ones.
  for (let i = 0; i < 5; i++) {
    await mf.reset();
    await transport(mf).sendMail(resetMail).catch(() => {});
    const report = await mf.report();
    assert.equal(report.summary.sessions, 1, `round ${i}: ${JSON.stringify(report.summary)}`);
    assert.equal(report.passed, false);
  }
});
