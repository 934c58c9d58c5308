"""A Django app using Django's SMTP email backend, graded against scenarios/greylist.yaml."""

from __future__ import annotations

import smtplib
from typing import Dict, Tuple

import pytest

from conftest import SCENARIOS
from mailfault import Mailfault

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402

# greylist.yaml keeps the real clock (retry after 30 s) for interactive use;
# the same rules on a virtual clock let the test move 5 minutes instantly.
GREYLIST_VIRTUAL = (SCENARIOS / "greylist.yaml").read_text() + "\nclock: virtual\n"


@pytest.fixture
def django_mail(mailfault: Mailfault) -> Mailfault:
    if not settings.configured:
        settings.configure(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=mailfault.smtp_host,
            EMAIL_PORT=mailfault.smtp_port,
            EMAIL_TIMEOUT=10,
            DEFAULT_FROM_EMAIL="shop@example.test",
        )
        django.setup()
    # One server per test session: the port is the same for every test.
    assert (settings.EMAIL_HOST, settings.EMAIL_PORT) == (mailfault.smtp_host, mailfault.smtp_port)
    return mailfault


class Deferred(Exception):
    """The app's 'try again later' signal to its task queue."""

    def __init__(self, refused: Dict[str, Tuple[int, bytes]]) -> None:
        super().__init__(f"deferred: {refused}")
        self.refused = refused


def send_order_confirmation(order: int) -> int:
    """The 'app': Django's send_mail in a task that asks to be retried on a 4xx.

    The error is turned into the task's own exception outside the except
    block: Django 4.2 leaves its SMTP connection open when sendmail raises, and
    the original traceback would keep it alive (and the session open).
    """
    from django.core.mail import send_mail

    refused: Dict[str, Tuple[int, bytes]] = {}
    try:
        return send_mail(
            f"Order {order} confirmed",
            f"Thanks! Track it at https://shop.example.test/orders/{order}.",
            None,
            ["customer@example.test"],
        )
    except smtplib.SMTPRecipientsRefused as err:
        if not all(400 <= code < 500 for code, _ in err.recipients.values()):
            raise
        refused = dict(err.recipients)
    raise Deferred(refused)


@pytest.mark.mailfault(scenario=GREYLIST_VIRTUAL)
def test_django_retry_gets_through_greylisting(django_mail: Mailfault) -> None:
    # First attempt: 450 4.2.0; Django raises, the app's task queue would retry.
    with pytest.raises(Deferred) as info:
        send_order_confirmation(7)
    assert info.value.refused["customer@example.test"][0] == 450
    assert django_mail.messages() == []

    django_mail.advance_clock("5m")  # the retry comes 5 minutes later
    assert send_order_confirmation(7) == 1

    msg = django_mail.wait_for_message("subject:\"Order 7 confirmed\"")
    assert msg.sender == "shop@example.test"
    assert msg.links == ["https://shop.example.test/orders/7"]
    django_mail.report().assert_passed()  # delivered, retried, >= 30 s apart


@pytest.mark.mailfault(scenario=GREYLIST_VIRTUAL)
def test_django_app_that_gives_up_fails_the_grade(django_mail: Mailfault) -> None:
    with pytest.raises(Deferred):
        send_order_confirmation(8)  # and never again
    report = django_mail.report()
    assert {v.name for v in report.failed} == {"delivered", "retried_after_temporary"}
    with pytest.raises(AssertionError, match=r"retried_after_temporary(.|\n)*450 4\.2\.0"):
        report.assert_passed()


@pytest.mark.mailfault(scenario=GREYLIST_VIRTUAL)
def test_django_retry_too_soon_fails_min_retry_interval(django_mail: Mailfault) -> None:
    with pytest.raises(Deferred):
        send_order_confirmation(9)
    django_mail.advance_clock(10)  # 10 s: too early, deferred again
    with pytest.raises(Deferred):
        send_order_confirmation(9)
    django_mail.advance_clock("30s")
    send_order_confirmation(9)
    report = django_mail.report()
    assert [v.name for v in report.failed] == ["min_retry_interval"], str(report)
