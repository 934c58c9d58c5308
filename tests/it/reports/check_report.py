"""Parses a report (DSN or ARF) with Python's email package and prints its
fields as JSON, so the Rust test asserts them against an independent parser.

Usage: python3 check_report.py FILE
"""

import json
import sys
from email import message_from_bytes, policy

raw = open(sys.argv[1], "rb").read()
msg = message_from_bytes(raw, policy=policy.default)
out = {
    "defects": [str(d) for d in msg.defects],
    "from": str(msg["From"]),
    "to": str(msg["To"]),
    "subject": str(msg["Subject"]),
    "date": str(msg["Date"]),
    "message_id": str(msg["Message-ID"]),
    "content_type": msg.get_content_type(),
    "report_type": msg.get_param("report-type"),
    "multipart": msg.is_multipart(),
    "parts": [],
}
for part in msg.iter_parts():
    entry = {"type": part.get_content_type(), "defects": [str(d) for d in part.defects]}
    ctype = part.get_content_type()
    if ctype == "text/plain":
        entry["text"] = part.get_content()
    elif ctype == "message/delivery-status":
        # The email package parses it as a list of header blocks: the
        # per-message fields, then one block per recipient.
        blocks = part.get_payload()
        entry["blocks"] = [{k: str(v) for k, v in b.items()} for b in blocks]
    elif ctype == "message/feedback-report":
        body = part.get_payload()
        if isinstance(body, list):
            entry["fields"] = {k: str(v) for b in body for k, v in b.items()}
        else:
            fields = {}
            for line in str(body).splitlines():
                if ":" in line:
                    k, v = line.split(":", 1)
                    fields[k.strip()] = v.strip()
            entry["fields"] = fields
    elif ctype == "message/rfc822":
        inner = part.get_payload()[0]
        entry["inner_subject"] = str(inner["Subject"])
        entry["inner_body"] = inner.get_body(("plain",)).get_content() if inner.get_body(("plain",)) else ""
    elif ctype == "text/rfc822-headers":
        headers = message_from_bytes(part.get_payload(decode=True) or b"", policy=policy.default)
        entry["inner_subject"] = str(headers["Subject"])
    out["parts"].append(entry)
print(json.dumps(out))
