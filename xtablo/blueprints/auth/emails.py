"""The account's email: proving it, and changing it.

/account/email/verification       POST       mail the verification link again (the banner's button;
                                             EMAIL_LINK_LIMIT per account)
/email/verify/<verify_token>      GET, POST  the mailed link: GET shows a button, POST verifies
                                             (signed in to that account; within EMAIL_VERIFICATION_HOURS)
/account/email                    POST       ask to change the email (the current password when the
                                             account has one): a link goes to the new address
/account/email/confirm/<email_token>  GET, POST  that link: GET shows a button, POST makes the new
                                             address the account's email, verified, and tells the old one
                                             (signed in to that account)

A link changes nothing on GET: mail scanners open links to look at them, and a scanner at the
victim's mail server must not verify an address that someone else signed up with. Nor does a
POST from anyone but the account, signed in: the link proves the mailbox, the session proves the
account. Otherwise the owner of an address, opening a link that someone who signed up with it (or
asked to move their account to it) had sent, would hand her invitations to that account. Signed
out, the page offers to sign in (and back), or to take the address back with a new password;
signed in to another account, it says so. The tokens are signed, name the account and its email
(xtablo/models/user.py), and die when that email changes.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from xtablo import accounts
from xtablo.blueprints.auth import bp, throttle
from xtablo.blueprints.auth.forms import ResendVerificationForm, email_change_form
from xtablo.blueprints.auth.mails import link_hours, send_email_change, send_email_changed_notice, send_verification
from xtablo.blueprints.auth.views import render_account, safe_next
from xtablo.database import end_transaction
from xtablo.extensions import db
from xtablo.models import User
from xtablo.models.user import normalize_email, verify_password


def works_for() -> str:
    return ngettext("It works for %(num)d hour.", "It works for %(num)d hours.", link_hours())


def joined(claimed: int) -> str:
    return ngettext("You joined %(num)d tablo you were invited to.", "You joined %(num)d tablos you were invited to.", claimed)


def signed_in_as(user: User) -> bool:
    """Whether this browser is signed in to `user`, the account a mailed link names."""
    return current_user.is_authenticated and current_user.id == user.id


def refuse_link(user: User, signed_out_says: str):
    """A link's POST from a browser not signed in to its account changes nothing: signed out, the
    person signs in and comes back to the link; signed in to another account, a page says so."""
    if current_user.is_authenticated:
        abort(403, _("This link is for the xtablo account of %(email)s, and this browser is signed in to another account. Sign out, then sign in to that account to use it.", email=user.email))
    flash(signed_out_says, "info")
    return redirect(url_for("auth.login", next=request.path), 303)


@bp.post("/account/email/verification")
@login_required
def resend_verification():
    form = ResendVerificationForm()
    back = safe_next(form.next.data)
    if not form.validate_on_submit():
        flash(_("This form could not be read. Try again."), "error")
        return redirect(back, 303)
    if current_user.email_verified:
        flash(_("Your email is already verified."), "info")
        return redirect(back, 303)
    if not throttle.reserve(throttle.email_link_counters("verify", current_user.id)):
        flash(_("You asked for several links already. Wait an hour, then try again."), "error")
        return redirect(back, 303)
    email = current_user.email
    send_verification(current_user._get_current_object())
    flash(" ".join([_("We sent a new link to %(email)s.", email=email), works_for()]), "info")
    return redirect(back, 303)


@bp.route("/email/verify/<verify_token>", methods=["GET", "POST"])
def verify_email(verify_token: str):
    user = User.by_verification_token(verify_token, lock=request.method == "POST")
    if user is None:
        return render_template("auth/verify.html", user=None), 410
    if request.method == "GET":
        return render_template("auth/verify.html", user=user, mine=signed_in_as(user))
    if not signed_in_as(user):
        return refuse_link(user, _("Sign in to verify %(email)s: the link proves that the address is yours, signing in proves that the account is.", email=user.email))
    email, already = user.email, user.email_verified
    claimed = accounts.verify_email(user)
    db.session.commit()
    if already:
        flash(_("Your email %(email)s was already verified.", email=email), "info")
    else:
        flash(" ".join([_("Your email %(email)s is verified.", email=email)] + ([joined(claimed)] if claimed else [])), "info")
    return redirect(url_for("tablos.index"), 303)


@bp.post("/account/email")
@login_required
def change_email():
    form = email_change_form(current_user)
    if not form.validate_on_submit():
        return render_account(email_form=form), 422
    if "current_password" in form:
        # The same count as the password-change form's: a stolen session guesses no faster here.
        counters = throttle.password_change_counters(current_user.id, current_user.current_session.id)
        if not throttle.reserve(counters):
            form.current_password.errors.append(_("Too many wrong passwords. Wait 15 minutes, then try again."))
            return render_account(email_form=form), 429
        password_hash = current_user.password_hash
        end_transaction()  # argon2 runs outside any transaction
        if not verify_password(password_hash, form.current_password.data):
            form.current_password.errors.append(_("This is not your current password."))
            return render_account(email_form=form), 422
        throttle.release(counters)
    if not throttle.reserve(throttle.email_link_counters("email-change", current_user.id)):
        form.new_email.errors.append(_("You asked for several links already. Wait an hour, then try again."))
        return render_account(email_form=form), 429
    old_email, new_email = current_user.email, normalize_email(form.new_email.data)
    send_email_change(current_user._get_current_object(), new_email)
    flash(" ".join([
        _("We sent a link to %(new)s: your email becomes that address when you open it. Until then it stays %(old)s.", new=new_email, old=old_email),
        works_for(),
    ]), "info")
    return redirect(url_for("auth.account"), 303)


@bp.route("/account/email/confirm/<email_token>", methods=["GET", "POST"])
def confirm_email_change(email_token: str):
    found = User.by_email_change_token(email_token, lock=request.method == "POST")
    if found is None:
        return render_template("auth/email_confirm.html", user=None), 410
    user, new_email = found
    old_email, name, locale = user.email, user.name, user.locale
    if request.method == "GET":
        return render_template("auth/email_confirm.html", user=user, mine=signed_in_as(user), old_email=old_email, new_email=new_email)
    if not signed_in_as(user):
        return refuse_link(user, _("Sign in to the account of %(email)s to confirm its new email: the link proves that the address is yours, signing in proves that the account is.", email=old_email))
    claimed = None
    if not User.email_taken(new_email):
        try:
            claimed = accounts.change_email(user, new_email)
            db.session.commit()
        except IntegrityError:  # another account took the address a moment ago
            db.session.rollback()
    if claimed is None:
        return render_template("auth/email_confirm.html", user=None, taken=True, old_email=old_email, new_email=new_email), 409
    send_email_changed_notice(name, old_email, new_email, locale)
    flash(" ".join([_("Your xtablo email is now %(email)s.", email=new_email)] + ([joined(claimed)] if claimed else [])), "info")
    # This browser signs in to the account as before: its device cookie follows the email.
    return throttle.remember_device(redirect(url_for("auth.account"), 303), new_email)
