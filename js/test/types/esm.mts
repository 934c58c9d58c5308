// Type-checked by js/ci.sh (tsc --noEmit, module nodenext): the ESM entry's types.
import { startMailfault, type Mailfault, type Report } from 'mailfault';
import assert from 'node:assert';

const mf: Mailfault = await startMailfault({ scenario: 'scenarios/greylist.yaml', tls: true });
const port: number = mf.smtpPort;
const ca: string | undefined = mf.caFile;
const first = await mf.waitForMessage('to:user@example.test', { timeout: 5000 });
const subject: string = first.Subject;
await mf.advanceClock('5m');
await mf.advanceClock(300_000);
const report: Report = await mf.report();
report.assertPassed();
for (const v of report.failed) for (const e of v.evidence) assert.ok(e.session > 0 && e.line);
await mf.stop();
export { port, ca, subject };
