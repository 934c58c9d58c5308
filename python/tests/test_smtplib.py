"""The client and fixture against senders written with smtplib."""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import sysconfig
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from conftest import SCENARIOS
from mailfault import BinaryNotFound, Mailfault, MailfaultError, ScenarioError, find_binary


def _mail(subject: str, to: str = "user@example.test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "App <app@example.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(f"Body of {subject}.\n")
    return msg


def test_captures_a_message_with_headers_raw_and_attachment(mailfault: Mailfault) -> None:
    assert mailfault.messages() == []  # reset before each test
    msg = _mail("Invoice 42")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf")
    with smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port) as smtp:
        smtp.send_message(msg)

    got = mailfault.wait_for_message()
    assert got.sender == "app@example.test"
    assert got.to == ["user@example.test"]
    assert got.envelope_to == ["user@example.test"]
    assert got.subject == "Invoice 42"
    assert got.text.strip() == "Body of Invoice 42."
    assert got.header("subject") == "Invoice 42"
    assert got.headers["Received"]  # the server's trace header
    assert got.raw.startswith(b"Received: ")
    assert got.email()["Subject"] == "Invoice 42"
    [attachment] = got.attachments
    assert (attachment.filename, attachment.content_type) == ("invoice.pdf", "application/pdf")
    assert attachment.read() == b"%PDF-1.4 fake"
    assert mailfault.message(got.id).subject == "Invoice 42"
    assert mailfault.message("latest").id == got.id


def test_search_and_wait_with_a_query(mailfault: Mailfault) -> None:
    assert mailfault.messages() == []
    with smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port) as smtp:
        smtp.send_message(_mail("Welcome", to="ann@example.test"))
        smtp.send_message(_mail("Receipt", to="bob@example.test"))
    got = mailfault.wait_for_message("to:bob@example.test")
    assert got.subject == "Receipt"
    assert [m.subject for m in mailfault.messages()] == ["Receipt", "Welcome"]  # newest first
    assert [m.subject for m in mailfault.messages('subject:"Welcome"')] == ["Welcome"]
    assert mailfault.messages("to:nobody@example.test") == []
    with pytest.raises(TimeoutError, match=r"no message matching 'to:nobody@example.test'.*holds 2"):
        mailfault.wait_for_message("to:nobody@example.test", timeout=0.3)


def test_sessions_carry_transcripts(mailfault: Mailfault) -> None:
    with smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port) as smtp:
        smtp.sendmail("app@example.test", ["user@example.test"], "Subject: hi\r\n\r\nhello\r\n")
    mailfault.wait_idle()
    [session] = mailfault.sessions()
    lines = [(line.dir, line.text.split(" ")[0].upper()) for line in session.transcript]
    assert ("client", "MAIL") in lines and ("client", "QUIT") in lines
    assert "S: 220 " in session.transcript_text()


@pytest.mark.mailfault(scenario=str(SCENARIOS / "unknown-user.yaml"))
def test_marker_swaps_the_scenario_and_report_grades_the_sender(mailfault: Mailfault) -> None:
    with smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port) as smtp:
        refused = smtp.sendmail(
            "app@example.test",
            ["ghost@nowhere.example.test", "user@example.test"],
            "Subject: two\r\n\r\nhello\r\n",
        )
    assert refused == {"ghost@nowhere.example.test": (550, b"5.1.1 The email account that you tried to reach does not exist")}
    assert mailfault.wait_for_message().envelope_to == ["user@example.test"]
    report = mailfault.report()
    assert report.passed, str(report)
    assert {v.name for v in report.verdicts} == {"no_retry_after_permanent", "quit"}
    report.assert_passed()


def test_default_scenario_is_back_after_the_marked_test(mailfault: Mailfault) -> None:
    assert "accept-all" in mailfault.scenario()
    with smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port) as smtp:
        assert smtp.sendmail("app@example.test", ["ghost@nowhere.example.test"], "Subject: x\r\n\r\ny\r\n") == {}


def test_failed_expectations_raise_with_evidence(mailfault: Mailfault) -> None:
    mailfault.set_scenario((SCENARIOS / "unknown-user.yaml").read_text())
    for _ in range(2):  # a bad sender: retries the 5xx, and hangs up without QUIT
        smtp = smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("app@example.test", ["ghost@nowhere.example.test"], "Subject: x\r\n\r\ny\r\n")
        smtp.close()
    report = mailfault.report()
    assert not report.passed
    assert {v.name for v in report.failed} == {"no_retry_after_permanent", "quit"}
    with pytest.raises(AssertionError) as info:
        report.assert_passed()
    text = str(info.value)
    assert "2 expectation(s) failed" in text
    assert "FAIL  no_retry_after_permanent" in text and "FAIL  quit" in text
    assert re.search(r"\[session \d+ at [0-9.]+s\] S: 550 5\.1\.1", text), text  # evidence lines


def test_set_scenario_reports_problems_with_line_numbers(mailfault: Mailfault) -> None:
    with pytest.raises(ScenarioError) as info:
        mailfault.set_scenario("version: 1\nrules:\n  - on: rcpt\n    reply: 550 4.1.1 mismatched\n")
    assert info.value.problems and info.value.problems[0]["line"] == 4
    assert "class" in str(info.value)
    with pytest.raises(FileNotFoundError, match="no such file"):
        mailfault.set_scenario("missing-scenario.yaml")
    with pytest.raises(MailfaultError, match="clock: virtual"):
        mailfault.advance_clock("5m")  # accept-all runs on the real clock


def test_start_and_stop_a_server_of_its_own_with_tls() -> None:
    with Mailfault.start(tls=True) as mf:
        pid = mf.pid
        assert mf.ca_file and Path(mf.ca_file).is_file()
        context = ssl.create_default_context(cafile=mf.ca_file)
        with smtplib.SMTP(mf.smtp_host, mf.smtp_port) as smtp:
            smtp.starttls(context=context)
            smtp.sendmail("app@example.test", ["user@example.test"], "Subject: tls\r\n\r\nsecret\r\n")
        got = mf.wait_for_message("subject:tls")
        assert got.summary["TLS"], "the message should record the TLS upgrade"
    assert not mf.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_start_reports_a_bad_scenario_with_the_server_output() -> None:
    with pytest.raises(MailfaultError, match=r"exited with code 2(.|\n)*bogus"):
        Mailfault.start(scenario="version: 1\nbogus: true\n")


def test_the_binary_comes_from_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MAILFAULT_BIN", raising=False)
    found = find_binary()
    assert Path(found).parent == Path(sysconfig.get_path("scripts")), found
    monkeypatch.setenv("MAILFAULT_BIN", str(tmp_path / "nope"))
    with pytest.raises(BinaryNotFound, match="MAILFAULT_BIN="):
        find_binary()
    with pytest.raises(BinaryNotFound, match="binary="):
        Mailfault.start(binary=tmp_path / "nope")


def test_python_dash_m_runs_the_binary() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mailfault", "check", str(SCENARIOS / "greylist.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "ok: " in done.stdout and "greylist" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "mailfault", "no-such-command"], capture_output=True, timeout=60)
    assert bad.returncode == 2


def test_server_does_not_outlive_a_killed_python() -> None:
    # A test process killed outright (CI time-out, SIGKILL) runs no exit
    # handlers; the server must still go away.
    code = (
        "import os, signal\n"
        "from mailfault import Mailfault\n"
        "mf = Mailfault.start()\n"
        "print(mf.pid, mf._workdir, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid_text, workdir = done.stdout.split()
    pid = int(pid_text)
    shutil.rmtree(workdir, ignore_errors=True)  # the killed process could not clean up
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail(f"mailfault server {pid} kept running after the Python process that started it was killed")
