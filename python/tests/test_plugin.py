"""The pytest plugin, seen from a user's test suite (run in a pytest subprocess)."""

from __future__ import annotations

import pytest

from conftest import SCENARIOS

SEND = '''
import smtplib

def send(mf, to="user@example.test", subject="hello"):
    with smtplib.SMTP(mf.smtp_host, mf.smtp_port) as smtp:
        return smtp.sendmail("app@example.test", [to], f"Subject: {subject}\\r\\n\\r\\nbody\\r\\n")
'''


def test_failing_test_gets_its_smtp_transcripts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        helpers=SEND,
        test_inner=f'''
import pytest
from helpers import send

def test_passes(mailfault):
    send(mailfault, subject="from the passing test")

@pytest.mark.mailfault(scenario={str(SCENARIOS / "unknown-user.yaml")!r})
def test_fails(mailfault):
    assert send(mailfault, to="ghost@nowhere.example.test") == {{}}
''',
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # The section appears once, for the failing test only, with its own session.
    assert out.count("mailfault SMTP transcripts") == 1
    result.stdout.fnmatch_lines(
        [
            "*- mailfault SMTP transcripts -*",
            "session 2 from 127.0.0.1:*",  # session 1 was the passing test's
            "*S: 220 *",
            "*C: rcpt TO:<ghost@nowhere.example.test>*",
            "*S: 550 5.1.1 The email account that you tried to reach does not exist  [[]rule: unknown user[]]",
            "*C: QUIT*",
        ]
    )
    assert "session 1 from" not in out


def test_tests_do_not_see_each_others_mail_and_marker_is_undone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        helpers=SEND,
        test_order=f'''
import pytest
from helpers import send

def test_a(mailfault):
    send(mailfault)
    assert len(mailfault.messages()) == 1

@pytest.mark.mailfault(scenario="version: 1\\nrules:\\n  - {{ on: rcpt, reply: 550 5.1.1 No such user }}\\n")
def test_b(mailfault):
    assert mailfault.messages() == [] and mailfault.sessions() == []
    import smtplib
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(mailfault)

def test_c(mailfault):
    assert mailfault.messages() == []
    assert send(mailfault) == {{}}  # accept-all again
''',
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_marker_path_relative_to_the_test_file_and_a_missing_one(pytester: pytest.Pytester) -> None:
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "unknown.yaml").write_text((SCENARIOS / "unknown-user.yaml").read_text())
    pytester.makepyfile(
        test_paths='''
import pytest

@pytest.mark.mailfault(scenario="scenarios/unknown.yaml")
def test_relative(mailfault):
    assert "unknown-user" in mailfault.scenario()

@pytest.mark.mailfault(scenario="scenarios/missing.yaml")
def test_missing(mailfault):
    pass
''',
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*scenario='scenarios/missing.yaml'*no such file; looked at*"])


def test_mailfault_binary_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bin="def test_x(mailfault):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--mailfault-binary", "/nonexistent/mailfault")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*binary='/nonexistent/mailfault' is not an executable file*"])


def test_mailfault_scenario_option_sets_the_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        helpers=SEND,
        test_default='''
import smtplib
import pytest
from helpers import send

def test_unknown_user_is_the_default(mailfault):
    assert "unknown-user" in mailfault.scenario()
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(mailfault, to="ghost@nowhere.example.test")
    mailfault.report().assert_passed()

@pytest.mark.mailfault(scenario="version: 1\\nname: swapped\\n")
def test_swapped(mailfault):
    assert "swapped" in mailfault.scenario()

def test_default_again(mailfault):
    assert "unknown-user" in mailfault.scenario()
''',
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--mailfault-scenario", str(SCENARIOS / "unknown-user.yaml")
    )
    result.assert_outcomes(passed=3)


def test_a_connection_left_open_by_one_test_is_not_the_next_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_leak='''
import smtplib
import time

LEAKED = []

def test_leaves_a_connection_open(mailfault):
    smtp = smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port)
    smtp.ehlo()
    LEAKED.append(smtp)
    assert [s.open for s in mailfault.sessions()] == [True]

def test_next(mailfault):
    assert mailfault.sessions() == []
    started = time.monotonic()
    mailfault.report().assert_passed()  # does not wait for the other test's session
    assert time.monotonic() - started < 2
    LEAKED[0].quit()
    time.sleep(0.2)
    assert mailfault.sessions() == []  # ended now, but it began before the reset
''',
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
