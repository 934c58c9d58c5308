#!/usr/bin/env python3
"""A sender with a working retry queue, for examples/grade-retries.yaml.

Sends one message to a real recipient and to one that does not exist. A
4xx keeps the recipient queued for another attempt after a pause; a 5xx
drops it for good; every session ends with QUIT. Attempts and total time
are bounded, so it never hangs a test run.

Reads MAILFAULT_SMTP_HOST and MAILFAULT_SMTP_PORT (set by `mailfault run`).
"""

import os
import smtplib
import sys
import time
from email import policy
from email.message import EmailMessage

HOST = os.environ.get("MAILFAULT_SMTP_HOST", "127.0.0.1")
PORT = int(os.environ.get("MAILFAULT_SMTP_PORT", "1025"))
SENDER = "app@example.test"
RECIPIENTS = ["user@example.test", "unknown@example.test"]
# Greylisting asks for 2 s; wait a little longer than that.
RETRY_WAIT = 2.5
MAX_ATTEMPTS = 4
DEADLINE = time.monotonic() + 14


def message():
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = ", ".join(RECIPIENTS)
    msg["Subject"] = "Your invoice"
    msg.set_content("Hello,\n\nyour invoice is attached in spirit.\n")
    # SMTP needs CRLF line ends; smtplib only fixes them in str messages.
    return msg.as_bytes(policy=policy.SMTP)


def attempt(pending):
    """One session: returns the recipients still worth retrying."""
    retry = set()
    with smtplib.SMTP(HOST, PORT, timeout=10) as smtp:  # leaving sends QUIT
        smtp.ehlo("good-sender.example.test")
        code, reply = smtp.mail(SENDER)
        if code >= 500:
            print(f"sender refused for good: {code} {reply!r}")
            return set()
        if code >= 400:
            print(f"sender deferred: {code} {reply!r}")
            return set(pending)
        accepted = []
        for rcpt in sorted(pending):
            code, reply = smtp.rcpt(rcpt)
            if 200 <= code < 300:
                accepted.append(rcpt)
            elif code >= 500:
                print(f"{rcpt}: refused for good: {code} {reply!r}")
            else:
                print(f"{rcpt}: deferred: {code} {reply!r}")
                retry.add(rcpt)
        if not accepted:
            smtp.rset()
            return retry
        try:
            code, reply = smtp.data(message())
        except smtplib.SMTPDataError as e:
            code, reply = e.smtp_code, e.smtp_error
        if 200 <= code < 300:
            print(f"delivered to {', '.join(accepted)}")
        elif code < 500:
            print(f"message deferred: {code} {reply!r}")
            retry.update(accepted)
        else:
            print(f"message refused for good: {code} {reply!r}")
    return retry


def main():
    pending = set(RECIPIENTS)
    for n in range(MAX_ATTEMPTS):
        if not pending:
            return 0
        if n > 0:
            wait = min(RETRY_WAIT, DEADLINE - time.monotonic())
            if wait < RETRY_WAIT:
                break
            time.sleep(wait)
        pending = attempt(pending)
    if pending:
        print(f"gave up on: {', '.join(sorted(pending))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
