"""mailfault: an SMTP server for testing software that sends email.

``Mailfault.start()`` runs the bundled ``mailfault`` executable on free
127.0.0.1 ports; the pytest plugin offers it as the ``mailfault`` fixture.
"""

from __future__ import annotations

from ._binary import BinaryNotFound, find_binary
from .client import (
    Attachment,
    Evidence,
    Mailfault,
    MailfaultError,
    Message,
    Report,
    ScenarioError,
    Session,
    TranscriptLine,
    Verdict,
    extract_links,
)

__all__ = [
    "Attachment",
    "BinaryNotFound",
    "Evidence",
    "Mailfault",
    "MailfaultError",
    "Message",
    "Report",
    "ScenarioError",
    "Session",
    "TranscriptLine",
    "Verdict",
    "extract_links",
    "find_binary",
]
