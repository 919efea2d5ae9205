"""The mails of the account's email: what each says and where its link goes.

Each is sent after the request's commit (`mail.send` ends the transaction before it connects):
read every value it needs first.
"""

import math

from flask import current_app, render_template
from flask_babel import gettext as _

from xtablo import mail
from xtablo.models import User
from xtablo.web.security import external_url


def link_hours() -> int:
    """How long the links below work, in whole hours, as the mails and pages say it."""
    return math.ceil(current_app.config["EMAIL_VERIFICATION_HOURS"])


def send_verification(user: User) -> None:
    link = external_url("auth.verify_email", verify_token=user.verification_token())
    to, body = user.email, render_template("auth/verify_mail.txt", user=user, link=link, hours=link_hours())
    mail.send(to, _("Verify your xtablo email"), body)


def send_email_change(user: User, new_email: str) -> None:
    """To the new address: the link that makes it the account's email."""
    link = external_url("auth.confirm_email_change", email_token=user.email_change_token(new_email))
    body = render_template("auth/email_change_mail.txt", user=user, new_email=new_email, link=link, hours=link_hours())
    mail.send(new_email, _("Confirm your new xtablo email"), body)


def send_email_changed_notice(name: str, old_email: str, new_email: str) -> None:
    """To the address the account just left: if the change was not its owner's, they hear of it."""
    body = render_template("auth/email_changed_mail.txt", name=name, old_email=old_email, new_email=new_email)
    mail.send(old_email, _("Your xtablo email was changed"), body)
