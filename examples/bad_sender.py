#!/usr/bin/env python3
"""A sender that gets retries wrong, for examples/grade-retries.yaml.

It treats every failure alike: tries the same recipients again at once
(the greylist's 450 and the unknown user's permanent 550 both), and walks
away from each connection without QUIT. mailfault's report names each of
these mistakes with the lines that show it.

Reads MAILFAULT_SMTP_HOST and MAILFAULT_SMTP_PORT (set by `mailfault run`).
"""

import os
import smtplib

HOST = os.environ.get("MAILFAULT_SMTP_HOST", "127.0.0.1")
PORT = int(os.environ.get("MAILFAULT_SMTP_PORT", "1025"))
SENDER = "app@example.test"
RECIPIENTS = ["user@example.test", "unknown@example.test"]
ATTEMPTS = 3

for n in range(ATTEMPTS):
    smtp = smtplib.SMTP(HOST, PORT, timeout=10)
    smtp.ehlo("bad-sender.example.test")
    smtp.mail(SENDER)
    for rcpt in RECIPIENTS:
        code, reply = smtp.rcpt(rcpt)
        print(f"attempt {n + 1}: {rcpt}: {code}")
    # No pause before the next attempt, whatever the code said, and no QUIT.
    smtp.close()
