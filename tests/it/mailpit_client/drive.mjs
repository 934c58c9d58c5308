// Drives mailfault with the real `mailpit-api` npm client, as a Mailpit
// user's test suite would, and prints what it saw as one JSON object for
// tests/it/mailpit_client.rs to judge. Arguments: API base URL, SMTP port.
import { execFile } from "node:child_process";
import { MailpitClient } from "mailpit-api";

const [base, smtpPort] = [process.argv[2], process.argv[3]];
const mp = new MailpitClient(base);

// Sends one message with Python's smtplib; resolves to "250" or the code
// of the refusal.
function send(subject, from = "late@example.test") {
  const script = `
import smtplib, sys
try:
    with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
        s.sendmail(sys.argv[2], ["bob@example.test"], "From: " + sys.argv[2] + "\\r\\nTo: bob@example.test\\r\\nSubject: " + sys.argv[3] + "\\r\\n\\r\\nbody\\r\\n")
    print(250)
except smtplib.SMTPRecipientsRefused as e:
    print(list(e.recipients.values())[0][0])
except smtplib.SMTPResponseException as e:
    print(e.smtp_code)
`;
  return new Promise((resolve, reject) =>
    execFile("python3", ["-c", script, smtpPort, from, subject], (err, out) => (err ? reject(err) : resolve(out.trim()))),
  );
}

const ids = (page) => page.messages.map((m) => m.ID);
const out = {};

out.info = await mp.getInfo();
const list = await mp.listMessages();
out.list = { total: list.total, unread: list.unread, count: list.messages_count, ids: ids(list), first: list.messages[0] };
const oldest = list.messages[list.messages.length - 1].ID;
out.byId = await mp.getMessageSummary(oldest);
out.latest = await mp.getMessageSummary();
out.headers = await mp.getMessageHeaders(oldest);
out.raw = await mp.getMessageSource(oldest);
const part = out.byId.Attachments[0].PartID;
out.attachmentSize = (await mp.getMessageAttachment(oldest, part)).size;

out.search = {};
for (const query of ["from:ann", 'subject:"quarterly report"', "-from:ann", "has:attachment", "is:read", "note", "to:bob@example.test -subject:hello"]) {
  out.search[query] = ids(await mp.searchMessages({ query }));
}

await mp.setReadStatus({ IDs: [oldest], Read: false });
out.unreadAfterMarkingOne = (await mp.listMessages()).unread;
await mp.setReadStatus({ Read: true });
out.unreadAfterMarkingAll = (await mp.listMessages()).unread;

setTimeout(() => send("arrives late").catch(() => {}), 300);
const late = await mp.waitForMessage({ query: "subject:late" }, { timeout: 10000, interval: 100 });
out.waited = { subject: late.Subject, from: late.From.Address };
out.waitedForTwo = (await mp.waitForMessages({ query: "from:ann", count: 2 }, { timeout: 2000 })).messages_count;

await mp.deleteMessages({ IDs: [oldest] });
out.afterDeleteOne = ids(await mp.listMessages());
await mp.deleteMessagesBySearch({ query: "from:carl" });
out.afterDeleteSearch = ids(await mp.listMessages());
await mp.deleteMessages();
out.afterDeleteAll = (await mp.listMessages()).total;

out.chaosSet = await mp.setChaosTriggers({ Recipient: { ErrorCode: 451, Probability: 100 } });
out.chaosGet = await mp.getChaosTriggers();
out.chaosReply = await send("refused");
out.chaosReset = await mp.setChaosTriggers();
out.afterReset = await send("accepted again");
out.tags = await mp.getTags();
out.webui = await mp.getConfiguration();

process.stdout.write(JSON.stringify(out));
