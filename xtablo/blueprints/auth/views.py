"""Sign up, sign in, sign out, and the account's sessions and password.

/signup              GET, POST   create an account and sign in (then go to `next`, like sign-in)
/login               GET, POST   sign in (failed attempts limited per account and per IP)
/logout              POST        sign out this browser
/account/sessions    GET         the browsers signed in to this account
/account/sessions/<id>/revoke   POST   sign one of them out
/account/sessions/revoke-others POST   sign out every browser but this one
/account/password    GET, POST   change the password (signs out every other browser, and this
                                 one gets a new session); an account without one (Google or
                                 Apple only) asks here for a link, mailed to its email, to set its
                                 first password (EMAIL_LINK_LIMIT)
/password/forgot     GET, POST   ask for a link to choose a new password (the answer never says
                                 whether an account uses the email)
/password/reset/<reset_token> GET, POST  choose a new password through that link (once, within
                                 PASSWORD_RESET_HOURS); every session ends, this browser signs in,
                                 the email is verified (the link reached it), and the Google or
                                 Apple accounts that do not vouch for that email are unlinked
/account             GET, POST   the account's settings: name and language (its email form posts
                                 to emails.py)
/language            POST        the footer's language switch (anyone, signed in or not)
"""

from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import refresh
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from xtablo import accounts, mail, timezones
from xtablo.blueprints.auth import bp, throttle
from xtablo.blueprints.auth.forms import (
    AccountForm, ForgotPasswordForm, LanguageForm, LoginForm, PasswordChangeForm, ResetPasswordForm, SendPasswordLinkForm,
    SignupForm, email_change_form,
)
from xtablo.blueprints.auth.mails import password_link_mail, reset_hours, send_verification
from xtablo.database import end_transaction
from xtablo.extensions import db
from xtablo.i18n import remember_language
from xtablo.models import Session, User
from xtablo.models._types import utcnow
from xtablo.models.session import EndReason
from xtablo.models.user import hash_password, normalize_email, verify_password
from xtablo.sessions import TOUCH_EVERY, browser_name, end_session, start_session


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path on this site, never another host."""
    default = url_for("tablos.index")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ch.isspace() or not ch.isprintable() for ch in target):  # CR/LF, NUL, tabs...
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    # `next` comes along from the sign-in page (an invitation link opened while signed out), so
    # the new account lands where the person was going.
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url))
    form = SignupForm()
    if form.is_submitted() and not throttle.reserve(throttle.sign_up_counters()):
        flash(_("Too many sign-ups from this network. Wait an hour, then try again."), "error")
        return render_template("auth/signup.html", form=form, next=next_url), 429
    if form.validate_on_submit():
        end_transaction()  # argon2 runs outside any transaction
        password_hash = hash_password(form.password.data)
        try:
            user = User.create(name=form.name.data, email=form.email.data, password_hash=password_hash)
            start_session(user)
            email = user.email
            db.session.commit()
        except IntegrityError:  # the same email signed up a moment ago
            db.session.rollback()
            form.email.errors.append(_("An account already uses this email. Sign in instead."))
        else:
            # Signed in at once; invitations to the email wait until the link mailed to it is used.
            send_verification(user)
            return throttle.remember_device(redirect(safe_next(next_url), 303), email)
    return render_template("auth/signup.html", form=form, next=next_url), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next=next_url), 422 if form.errors else 200
    email = normalize_email(form.email.data)
    counters = throttle.sign_in_counters(email)
    if not throttle.reserve(counters):
        flash(_("Too many failed sign-ins for this account or from this network. Wait 15 minutes, then try again."), "error")
        return render_template("auth/login.html", form=form, next=next_url), 429
    user = User.by_email(email)
    password_hash = user.password_hash if user else None
    # argon2 takes a tenth of a second on purpose: end the transaction first, so that on SQLite
    # a flood of sign-ins never holds the write lock while it works.
    end_transaction()
    if not verify_password(password_hash, form.password.data):
        flash(_("Wrong email or password."), "error")
        return render_template("auth/login.html", form=form, next=next_url), 422
    user.upgrade_password_hash(form.password.data)
    start_session(user)
    db.session.commit()
    throttle.release(counters)
    response = throttle.remember_device(redirect(safe_next(next_url), 303), email)
    return remember_language(response, user.locale) if user.locale else response


@bp.post("/logout")
def logout():
    end_session()
    db.session.commit()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"), 303)


@bp.get("/account/sessions")
@login_required
def sessions():
    return render_template(
        "auth/sessions.html", sessions=Session.of_user(current_user), current=current_user.current_session,
        browser_name=browser_name, now=utcnow(), touch_every=TOUCH_EVERY,
    )


@bp.post("/account/sessions/<id:session_id>/revoke")
@login_required
def revoke_session(session_id: int):
    row = db.session.scalar(select(Session).where(Session.id == session_id, Session.user_id == current_user.id))
    if row is None:
        abort(404)
    if row.id == current_user.current_session.id:
        return logout()
    row.revoke(EndReason.REVOKED)  # already revoked (a second click): nothing changes
    db.session.commit()
    flash(_("That browser is signed out."), "info")
    return redirect(url_for("auth.sessions"), 303)


@bp.post("/account/sessions/revoke-others")
@login_required
def revoke_other_sessions():
    count = Session.revoke_all(current_user, reason=EndReason.REVOKED, except_session=current_user.current_session)
    db.session.commit()
    flash(ngettext("Signed out %(num)d other browser.", "Signed out %(num)d other browsers.", count), "info")
    return redirect(url_for("auth.sessions"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    if not current_user.has_password:
        return set_password()
    form = PasswordChangeForm()
    if form.validate_on_submit():
        counters = throttle.password_change_counters(current_user.id, current_user.current_session.id)
        if not throttle.reserve(counters):
            form.current_password.errors.append(_("Too many wrong passwords. Wait 15 minutes, then try again."))
            return render_template("auth/password.html", form=form), 429
        # Both hashes run outside any transaction (on SQLite it would hold the write lock).
        password_hash = current_user.password_hash
        end_transaction()
        if verify_password(password_hash, form.current_password.data):
            user = current_user._get_current_object()
            user.password_hash = hash_password(form.new_password.data)
            # Every session ends, this one too: a copy of this browser's cookie dies with the old
            # password, and this browser goes on with a new session (and a new token).
            Session.revoke_all(user, reason=EndReason.PASSWORD_CHANGED)
            start_session(user)
            email = user.email
            db.session.commit()
            throttle.release(counters)
            flash(_("Password changed. Every other browser is signed out."), "info")
            return throttle.remember_device(redirect(url_for("auth.sessions"), 303), email)
        form.current_password.errors.append(_("This is not your current password."))
    return render_template("auth/password.html", form=form), 422 if form.errors else 200


def set_password():
    """The first password of an account that signs in with Google or Apple only. The session is
    no proof of who holds it (a copy of its cookie works as well), and a password would outlive
    it: the password is chosen through a link mailed to the account's email, the page and token
    of a password reset (`reset_password`)."""
    form = SendPasswordLinkForm()
    if form.validate_on_submit():
        if not throttle.reserve(throttle.email_link_counters("set-password", current_user.id)):
            flash(_("You asked for several links already. Wait an hour, then try again."), "error")
            return render_template("auth/set_password.html", form=form), 429
        user = db.session.get(User, current_user.id, populate_existing=True)
        if user.has_password:  # set meanwhile, through a link: that one is now to be changed
            flash(_("Your account has a password now. Change it here if you wish."), "info")
            return redirect(url_for("auth.change_password"), 303)
        written = password_link_mail(user)
        hours = reset_hours()
        flash(" ".join([_("We sent a link to %(email)s: open it to choose your password.", email=user.email),
                        ngettext("It works once, for %(num)d hour.", "It works once, for %(num)d hours.", hours)]), "info")
        return mail.send_after(redirect(url_for("auth.account"), 303), *written)
    return render_template("auth/set_password.html", form=form), 422 if form.errors else 200


def account_form(**kwargs) -> AccountForm:
    return AccountForm(name=current_user.name, language=current_user.locale or "",
                       time_zone=current_user.time_zone or timezones.DEFAULT, **kwargs)


def render_account(form=None, email_form=None) -> str:
    """The account page, with the settings form and the email form (either one as posted)."""
    if form is None:
        form = account_form(formdata=None)
    if email_form is None:
        email_form = email_change_form(current_user, formdata=None)
    return render_template("auth/account.html", form=form, email_form=email_form)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = account_form()
    if form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.locale = form.language.data or None
        current_user.time_zone = form.time_zone.data
        db.session.commit()
        # The sentence in the language just chosen: the next page is drawn in it.
        refresh()
        flash(_("Settings saved."), "info")
        return remember_language(redirect(url_for("auth.account"), 303), form.language.data or None)
    return render_account(form=form), 422 if form.errors else 200


@bp.post("/language")
def language():
    """The footer's switch: remembered in a cookie, and on the account when signed in."""
    form = LanguageForm()
    back = safe_next(form.next.data)
    if not form.validate_on_submit():
        flash(_("That language is not available.") if form.lang.errors else _("This form could not be read. Try again."), "error")
        return redirect(back, 303)
    if current_user.is_authenticated:
        current_user.locale = form.lang.data
        db.session.commit()
    return remember_language(redirect(back, 303), form.lang.data)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    # The link confirmation page sends the address along (the person need not type it again).
    form = ForgotPasswordForm(email=request.args.get("email", "")[:254])
    if form.validate_on_submit():
        if not throttle.reserve(throttle.password_reset_counters()):
            flash(_("Too many requests from this network. Wait an hour, then try again."), "error")
            return render_template("auth/forgot.html", form=form), 429
        hours = reset_hours()
        user = User.by_email(form.email.data)
        written = password_link_mail(user) if user is not None else None
        # The same answer whether or not an account uses the email, in the same time: the mail
        # goes out once the answer has (a slow mail server would otherwise tell known emails).
        flash(" ".join([_("If an account uses %(email)s, a link to choose a new password is on its way.", email=normalize_email(form.email.data)),
                        ngettext("It works once, for %(num)d hour.", "It works once, for %(num)d hours.", hours)]), "info")
        response = redirect(url_for("auth.login"), 303)
        return mail.send_after(response, *written) if written else response
    return render_template("auth/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<reset_token>", methods=["GET", "POST"])
def reset_password(reset_token: str):
    user = User.by_reset_token(reset_token)
    if user is None:
        return render_template("auth/reset.html", form=None), 410
    form = ResetPasswordForm()
    if form.validate_on_submit():
        end_transaction()  # argon2 runs outside any transaction
        password_hash = hash_password(form.new_password.data)
        user = User.by_reset_token(reset_token, lock=True)  # again, locked: a link works once
        if user is None:
            return render_template("auth/reset.html", form=None), 410
        first = not user.has_password
        user.password_hash = password_hash
        Session.revoke_all(user, reason=EndReason.PASSWORD_CHANGED)
        # The link proves the mailbox, not the rest of the account: a Google or Apple account
        # linked by whoever else held it goes with their password and sessions.
        unlinked = accounts.unlink_unproven_identities(user)
        accounts.verify_email(user)  # the link reached the address: it is the owner's
        start_session(user)
        email = user.email
        db.session.commit()
        done = _("Password set. You can also sign in with your email and this password now.") if first else _("Password changed. Every other browser is signed out.")
        if unlinked:
            done = " ".join([done, ngettext(
                "The Google or Apple account linked to yours did not confirm %(email)s, so it is unlinked: link it again from your account page if it is yours.",
                "The Google and Apple accounts linked to yours did not confirm %(email)s, so they are unlinked: link them again from your account page if they are yours.",
                unlinked, email=email)])
        flash(done, "info")
        return throttle.remember_device(redirect(url_for("tablos.index"), 303), email)
    return render_template("auth/reset.html", form=form, user=user), 422 if form.errors else 200
