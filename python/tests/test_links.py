"""Links in sign-up and password-reset mail."""

from __future__ import annotations

import smtplib
import urllib.parse
from email.message import EmailMessage

from mailfault import Mailfault, extract_links


def test_links_from_an_html_password_reset(mailfault: Mailfault) -> None:
    msg = EmailMessage()
    msg["From"] = "Accounts <accounts@example.test>"
    msg["To"] = "ann@example.test"
    msg["Subject"] = "Reset your password"
    msg.set_content("Reset it here: https://app.example.test/reset?token=t0k3n&user=ann.\n")
    msg.add_alternative(
        '<html><body><p>Hello Ann,</p>'
        '<p><a href="https://app.example.test/reset?token=t0k3n&amp;user=ann">Reset password</a></p>'
        '<img src="https://cdn.example.test/logo.png" alt="">'
        '<p><a href="mailto:help@example.test">help</a> &middot; '
        "<a href='https://app.example.test/unsubscribe'>unsubscribe</a></p>"
        "</body></html>",
        subtype="html",
    )
    with smtplib.SMTP(mailfault.smtp_host, mailfault.smtp_port) as smtp:
        smtp.send_message(msg)

    got = mailfault.wait_for_message("to:ann@example.test")
    assert got.links == [
        "https://app.example.test/reset?token=t0k3n&user=ann",  # &amp; decoded; same URL in the text part
        "https://cdn.example.test/logo.png",
        "https://app.example.test/unsubscribe",
    ]
    reset = next(link for link in got.links if "/reset" in link)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(reset).query) == {"token": ["t0k3n"], "user": ["ann"]}


def test_links_in_plain_text_drop_trailing_punctuation() -> None:
    text = "Confirm (https://a.test/confirm?x=1). Or see https://a.test/wiki/Foo_(bar), thanks!"
    assert extract_links(text) == ["https://a.test/confirm?x=1", "https://a.test/wiki/Foo_(bar)"]
    assert extract_links("no links here", "<p>none either</p>") == []
