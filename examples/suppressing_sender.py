#!/usr/bin/env python3
"""A sender that processes bounces and complaints, for examples/grade-bounces.yaml.

Sends a newsletter, one message per recipient, each from a VERP return path
(bounces+<recipient>@...) so a report names who it is about. Then it reads
the reports that came back (here from mailfault's outbox; in production,
from the mailbox its return path delivers to), parses them with the email
package: a DSN whose Action is `failed` or an ARF abuse report puts the
recipient on the suppression list. The next campaign skips them.

Reads MAILFAULT_SMTP_HOST, MAILFAULT_SMTP_PORT and MAILFAULT_HTTP_URL
(set by `mailfault run`). Bounded: a handful of requests, 10 s time-outs.
"""

import json
import os
import smtplib
import sys
import urllib.request
from email import message_from_bytes, policy
from email.message import EmailMessage

HOST = os.environ.get("MAILFAULT_SMTP_HOST", "127.0.0.1")
PORT = int(os.environ.get("MAILFAULT_SMTP_PORT", "1025"))
HTTP = os.environ.get("MAILFAULT_HTTP_URL", "http://127.0.0.1:8025")
LIST = ["alice@example.test", "gone@example.test", "angry@example.test", "bob@example.test"]
SUPPRESS = "--no-suppression" not in sys.argv


def verp(rcpt):
    return "bounces+" + rcpt.replace("@", "=") + "@app.example.test"


def campaign(name, recipients):
    with smtplib.SMTP(HOST, PORT, timeout=10) as smtp:  # leaving sends QUIT
        smtp.ehlo("app.example.test")
        for rcpt in recipients:
            msg = EmailMessage()
            msg["From"] = "news@app.example.test"
            msg["To"] = rcpt
            msg["Subject"] = f"{name} newsletter"
            msg.set_content("Hello,\n\nthe news.\n")
            smtp.send_message(msg, from_addr=verp(rcpt), to_addrs=[rcpt])
            print(f"{name}: sent to {rcpt}")


def advance(by):
    req = urllib.request.Request(
        f"{HTTP}/api/v1/clock/advance",
        data=json.dumps({"by": by}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=10).read()


def reports():
    """Every report released so far, parsed."""
    with urllib.request.urlopen(f"{HTTP}/api/v1/outbox", timeout=10) as r:
        listing = json.load(r)
    out = []
    for item in listing["reports"]:
        if item["state"] == "pending":
            continue
        with urllib.request.urlopen(f"{HTTP}/api/v1/outbox/{item['id']}/raw", timeout=10) as r:
            out.append(message_from_bytes(r.read(), policy=policy.default))
    return out


def to_suppress(report):
    """The recipients a report says must not be mailed again."""
    kind = report.get_param("report-type")
    found = set()
    for part in report.iter_parts():
        ctype = part.get_content_type()
        if kind == "delivery-status" and ctype == "message/delivery-status":
            for block in part.get_payload()[1:]:
                if str(block["Action"]).strip().lower() == "failed":
                    found.add(str(block["Final-Recipient"]).split(";", 1)[1].strip().lower())
        elif kind == "feedback-report" and ctype == "message/feedback-report":
            payload = part.get_payload()
            blocks = payload if isinstance(payload, list) else []
            for block in blocks:
                rcpt = block["Original-Rcpt-To"]
                if rcpt:
                    found.add(str(rcpt).strip().strip("<>").lower())
    return found


def main():
    campaign("march", LIST)
    # An hour and a bit later: the bounce and the complaint have come in.
    advance("90m")
    suppressed = set()
    if SUPPRESS:
        for report in reports():
            suppressed |= to_suppress(report)
        print(f"suppression list: {sorted(suppressed)}")
    campaign("april", [r for r in LIST if r not in suppressed])


if __name__ == "__main__":
    main()
