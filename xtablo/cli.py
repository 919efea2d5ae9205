"""Operator commands: `flask users ...` (create, set-password, verify), `flask sessions prune`, `flask seed-demo`."""

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from xtablo import accounts
from xtablo.extensions import db
from xtablo.models import Session, Status, Tablo, Task, User
from xtablo.models.session import EndReason
from xtablo.models.user import MIN_PASSWORD_LENGTH, normalize_email

users = AppGroup("users", help="Manage accounts.")
sessions = AppGroup("sessions", help="Manage server-side sessions.")

# An address the app itself accepts (email-validator refuses special-use domains such as .local).
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="password")
    return password


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.password_option(help="Password (prompted, hidden, when omitted).")
def create_user(email: str, name: str, password: str) -> None:
    """Create an account with EMAIL."""
    _check_password(password)
    if User.email_taken(email):
        raise click.ClickException(f"an account already uses {email.strip().lower()}")
    try:
        user = User.create(name=name, email=email, password=password)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"an account already uses {email.strip().lower()}")
    click.echo(f"Created user {user.id} <{user.email}>.")


@users.command("set-password")
@click.argument("email")
@click.password_option(help="New password (prompted, hidden, when omitted).")
def set_password(email: str, password: str) -> None:
    """Set the password of EMAIL and sign out all its sessions."""
    _check_password(password)
    user = User.by_email(email)
    if user is None:
        raise click.ClickException(f"no account uses {email.strip().lower()}")
    user.set_password(password)
    revoked = Session.revoke_all(user, reason=EndReason.PASSWORD_CHANGED)
    db.session.commit()
    click.echo(f"Password set for <{user.email}>; {revoked} session(s) signed out.")


@users.command("verify")
@click.argument("email")
def verify_email(email: str) -> None:
    """Mark the email of EMAIL's account verified (as its link would) and claim the invitations to it."""
    user = User.by_email(email)
    if user is None:
        raise click.ClickException(f"no account uses {normalize_email(email)}")
    already = user.email_verified
    claimed = accounts.verify_email(user)
    db.session.commit()
    state = "was already verified" if already else "is verified"
    click.echo(f"<{user.email}> {state}; {claimed} invitation(s) claimed.")


@sessions.command("prune")
def prune_sessions() -> None:
    """Delete sessions past their idle timeout or absolute lifetime (signed-out ones kept to tell
    their browser why included), and stale rate-limit counters."""
    from xtablo.ratelimit import DatabaseStorage

    count = Session.prune(idle_timeout=current_app.config["SESSION_IDLE_TIMEOUT"], lifetime=current_app.config["SESSION_LIFETIME"])
    db.session.commit()
    counters = DatabaseStorage().prune()
    click.echo(f"Pruned {count} expired session(s) and {counters} stale rate-limit counter(s).")


@click.command("seed-demo")
def seed_demo() -> None:
    """Create a demo account with one example tablo (safe to run twice)."""
    user = User.by_email(DEMO_EMAIL)
    if user is None:
        user = User.create(name="Demo", email=DEMO_EMAIL, password=DEMO_PASSWORD)
        accounts.verify_email(user)  # no mail reaches example.com: the demo asks for none
        tablo = Tablo.create(owner=user, title="Launch the website", color="green",
                             description="An example tablo: drag the cards between the columns.")
        for status, titles in {
            Status.TODO: ["Write the launch announcement", "Choose the domain name", "Plan the photo shoot"],
            Status.IN_PROGRESS: ["Design the home page", "Collect customer quotes"],
            Status.DONE: ["Kick-off meeting", "Agree on the budget"],
        }.items():
            for title in titles:
                Task.create(tablo, title=title, status=status)
        db.session.commit()
        click.echo(f"Created the demo account {DEMO_EMAIL} (password: {DEMO_PASSWORD}).")
    else:
        click.echo(f"The demo account {DEMO_EMAIL} already exists (password: {DEMO_PASSWORD} unless changed).")


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(sessions)
    app.cli.add_command(seed_demo)
