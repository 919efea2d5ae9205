"""Mail to people (password reset links, email verification and email change links).

With SMTP_URL set (`smtp://user:password@host:587?starttls=1`, or `smtps://host:465`) mail goes
out over SMTP; without it, the whole message, links included, is written to the server's log, so a
local install works without a mail server. Sending is a network call: the caller's transaction is
ended first (xtablo/database.py), and a mail server that fails or times out (MAIL_TIMEOUT) is
logged, never shown to the person: their answer must not depend on it.

`send` sends within the request. `send_after` sends once the response has gone out, for answers
whose time must not depend on whether a mail was sent ("Forgot your password?" mails only known
addresses, and a slow mail server would tell which): the mail is written in the request, and
what sending needs is read from the app then (`Outbox`), since no app or request context is left
when the server closes the response.
"""

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from functools import partial
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Response, current_app

from xtablo.database import end_transaction


@dataclass(frozen=True)
class Outbox:
    """The app's mail settings, read while the app is at hand."""

    sender: str
    smtp_url: str | None
    timeout: float
    log: logging.Logger

    @classmethod
    def of_app(cls) -> "Outbox":
        config = current_app.config
        return cls(config["MAIL_FROM"], config["SMTP_URL"] or None, config["MAIL_TIMEOUT"], current_app.logger)

    def deliver(self, to: str, subject: str, body: str) -> bool:
        """Send a plain-text mail; True when it left (or was logged), False when the server
        failed. Needs no app context."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        if not self.smtp_url:
            # As a person reads it (no transfer encoding that would cut its links).
            self.log.warning("Mail not sent (no SMTP_URL), here it is:\nTo: %s\nSubject: %s\n\n%s", to, subject, body)
            return True
        url = urlsplit(self.smtp_url)
        options = parse_qs(url.query)
        smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        try:
            with smtp_class(url.hostname, url.port or (465 if url.scheme == "smtps" else 25), timeout=self.timeout) as smtp:
                if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
                    smtp.starttls()
                if url.username:
                    smtp.login(unquote(url.username), unquote(url.password or ""))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            self.log.error("Mail to %s not sent: %s", to, error)
            return False
        return True

    def deliver_quietly(self, to: str, subject: str, body: str) -> None:
        """`deliver`, once nobody is left to answer: whatever goes wrong is logged."""
        try:
            self.deliver(to, subject, body)
        except Exception:
            self.log.exception("Mail to %s not sent", to)


def send(to: str, subject: str, body: str) -> bool:
    """Send a plain-text mail now; True when it left (or was logged), False when the server failed."""
    end_transaction()
    return Outbox.of_app().deliver(to, subject, body)


def send_after(response: Response, to: str, subject: str, body: str) -> Response:
    """Send a plain-text mail once `response` has gone out to the person (when the server closes
    it), so that the time of the answer does not tell whether a mail was sent. Without SMTP_URL
    the mail is written to the log at once: no network, nothing to time."""
    outbox = Outbox.of_app()
    if outbox.smtp_url is None:
        outbox.deliver(to, subject, body)
    else:
        response.call_on_close(partial(outbox.deliver_quietly, to, subject, body))
    return response
