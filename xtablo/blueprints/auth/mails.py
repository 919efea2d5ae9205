"""The mails of the account: what each says and where its link goes.

Each is sent after the request's commit (`mail.send` ends the transaction before it connects):
read every value it needs first. The password link is only written here: the view sends it once
its answer has gone out (`mail.send_after`).
"""

import math

from flask import current_app, render_template
from flask_babel import gettext as _

from xtablo import mail
from xtablo.i18n import in_language_of
from xtablo.models import User
from xtablo.web.security import external_url


def link_hours() -> int:
    """How long the links below work, in whole hours, as the mails and pages say it."""
    return math.ceil(current_app.config["EMAIL_VERIFICATION_HOURS"])


def reset_hours() -> int:
    """How long a password link works, in whole hours, as the mail and the pages say it."""
    return math.ceil(current_app.config["PASSWORD_RESET_HOURS"])


def send_verification(user: User) -> None:
    link = external_url("auth.verify_email", verify_token=user.verification_token())
    with in_language_of(user.locale):
        to, subject = user.email, _("Verify your xtablo email")
        body = render_template("auth/verify_mail.txt", user=user, link=link, hours=link_hours())
    mail.send(to, subject, body)


def send_email_change(user: User, new_email: str) -> None:
    """To the new address: the link that makes it the account's email."""
    link = external_url("auth.confirm_email_change", email_token=user.email_change_token(new_email))
    with in_language_of(user.locale):
        subject = _("Confirm your new xtablo email")
        body = render_template("auth/email_change_mail.txt", user=user, new_email=new_email, link=link, hours=link_hours())
    mail.send(new_email, subject, body)


def send_email_changed_notice(name: str, old_email: str, new_email: str, locale: str | None = None) -> None:
    """To the address the account just left: if the change was not its owner's, they hear of it."""
    with in_language_of(locale):
        subject = _("Your xtablo email was changed")
        body = render_template("auth/email_changed_mail.txt", name=name, old_email=old_email, new_email=new_email)
    mail.send(old_email, subject, body)


def password_link_mail(user: User) -> tuple[str, str, str]:
    """(to, subject, body) of the link that chooses the account's password through its email: a
    new one ("Forgot your password?"), or the first of an account that has none."""
    link = external_url("auth.reset_password", reset_token=user.reset_token())
    with in_language_of(user.locale):
        subject = _("Choose a new xtablo password") if user.has_password else _("Set your xtablo password")
        body = render_template("auth/reset_mail.txt", user=user, link=link, hours=reset_hours())
    return user.email, subject, body
