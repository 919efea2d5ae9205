"""Sign up, sign in, sign out, and the account's sessions and password.

/signup              GET, POST   create an account and sign in (then go to `next`, like sign-in)
/login               GET, POST   sign in (failed attempts limited per account and per IP)
/logout              POST        sign out this browser
/account/sessions    GET         the browsers signed in to this account
/account/sessions/<id>/revoke   POST   sign one of them out
/account/sessions/revoke-others POST   sign out every browser but this one
/account/password    GET, POST   change the password (signs out every other browser)
"""

from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from xtablo.blueprints.auth import bp, throttle
from xtablo.blueprints.auth.forms import LoginForm, PasswordChangeForm, SignupForm
from xtablo.extensions import db
from xtablo.models import Session, User
from xtablo.models.user import normalize_email, verify_password
from xtablo.sessions import end_session, start_session


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path on this site, never another host."""
    default = url_for("tablos.index")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
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
    if form.validate_on_submit():
        try:
            user = User.create(name=form.name.data, email=form.email.data, password=form.password.data)
            start_session(user)
            db.session.commit()
        except IntegrityError:  # the same email signed up a moment ago
            db.session.rollback()
            form.email.errors.append(_("An account already uses this email. Sign in instead."))
        else:
            return redirect(safe_next(next_url), 303)
    return render_template("auth/signup.html", form=form, next=next_url), 422 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = normalize_email(form.email.data)
        if throttle.is_blocked(email):
            flash(_("Too many failed sign-ins for this account or from this network. Wait 15 minutes, then try again."), "error")
            return render_template("auth/login.html", form=form, next=next_url), 429
        user = User.by_email(email)
        password_hash = user.password_hash if user else None
        # argon2 takes a tenth of a second on purpose: end the transaction first, so that on
        # SQLite a flood of sign-ins never holds the write lock while it works.
        db.session.rollback()
        if verify_password(password_hash, form.password.data):
            user.upgrade_password_hash(form.password.data)
            start_session(user)
            db.session.commit()
            throttle.forget_failures(email)
            return redirect(safe_next(next_url), 303)
        throttle.record_failure(email)
        flash(_("Wrong email or password."), "error")
        status = 422
    elif form.errors:
        status = 422
    return render_template("auth/login.html", form=form, next=next_url), status


@bp.post("/logout")
def logout():
    end_session()
    db.session.commit()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"), 303)


@bp.get("/account/sessions")
@login_required
def sessions():
    return render_template("auth/sessions.html", sessions=Session.of_user(current_user), current=current_user.current_session)


@bp.post("/account/sessions/<id:session_id>/revoke")
@login_required
def revoke_session(session_id: int):
    row = db.session.scalar(select(Session).where(Session.id == session_id, Session.user_id == current_user.id))
    if row is None:
        abort(404)
    if row.id == current_user.current_session.id:
        return logout()
    db.session.delete(row)
    db.session.commit()
    flash(_("That browser is signed out."), "info")
    return redirect(url_for("auth.sessions"), 303)


@bp.post("/account/sessions/revoke-others")
@login_required
def revoke_other_sessions():
    count = Session.revoke_all(current_user, except_session=current_user.current_session)
    db.session.commit()
    flash(_("Signed out %(count)d other browser(s).", count=count), "info")
    return redirect(url_for("auth.sessions"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if current_user.check_password(form.current_password.data):
            current_user.set_password(form.new_password.data)
            Session.revoke_all(current_user, except_session=current_user.current_session)
            db.session.commit()
            flash(_("Password changed. Every other browser is signed out."), "info")
            return redirect(url_for("auth.sessions"), 303)
        form.current_password.errors.append(_("This is not your current password."))
    return render_template("auth/password.html", form=form), 422 if form.errors else 200
