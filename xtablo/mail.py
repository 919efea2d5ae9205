"""Mail to people (password reset links; later, email verification).

With SMTP_URL set (`smtp://user:password@host:587?starttls=1`, or `smtps://host:465`) mail goes
out over SMTP; without it, the whole message, links included, is written to the server's log, so a
local install works without a mail server. Sending is a network call: the caller's transaction is
ended first (xtablo/database.py), and a mail server that fails or times out (MAIL_TIMEOUT) is
logged, never shown to the person: their answer must not depend on it.
"""

import smtplib
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from xtablo.database import end_transaction


def send(to: str, subject: str, body: str) -> bool:
    """Send a plain-text mail; True when it left (or was logged), False when the server failed."""
    end_transaction()
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if not config["SMTP_URL"]:
        # As a person reads it (no transfer encoding that would cut its links).
        current_app.logger.warning("Mail not sent (no SMTP_URL), here it is:\nTo: %s\nSubject: %s\n\n%s", to, subject, body)
        return True
    url = urlsplit(config["SMTP_URL"])
    options = parse_qs(url.query)
    smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    try:
        with smtp_class(url.hostname, url.port or (465 if url.scheme == "smtps" else 25), timeout=config["MAIL_TIMEOUT"]) as smtp:
            if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        current_app.logger.error("Mail to %s not sent: %s", to, error)
        return False
    return True
