"""The operators' commands."""

from datetime import timedelta

from sqlalchemy import func, select, update

from tests.conftest import PASSWORD
from xtablo.cli import DEMO_EMAIL
from xtablo.models import Session, Tablo, Task, User
from xtablo.models._types import utcnow


def test_users_create_and_set_password(app, runner, db, client):
    result = runner.invoke(args=["users", "create", "Ops@Example.com", "--name", "Ops", "--password", "first password"])
    assert result.exit_code == 0, result.output
    assert "Created user" in result.output
    assert client.post("/login", data={"email": "ops@example.com", "password": "first password"}).status_code == 303
    assert client.get("/tablos").status_code == 200

    result = runner.invoke(args=["users", "set-password", "ops@example.com", "--password", "second password"])
    assert result.exit_code == 0 and "1 session(s) signed out" in result.output
    assert client.get("/tablos").status_code == 302
    assert client.post("/login", data={"email": "ops@example.com", "password": "second password"}).status_code == 303


def test_users_create_refuses_bad_input(runner, db, make_user):
    make_user(email="taken@example.com")
    duplicate = runner.invoke(args=["users", "create", "TAKEN@example.com", "--name", "X", "--password", "long enough"])
    assert duplicate.exit_code != 0 and "already uses" in duplicate.output
    weak = runner.invoke(args=["users", "create", "new@example.com", "--name", "X", "--password", "short"])
    assert weak.exit_code != 0 and "at least 8 characters" in weak.output
    unknown = runner.invoke(args=["users", "set-password", "ghost@example.com", "--password", "long enough"])
    assert unknown.exit_code != 0 and "no account" in unknown.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_sessions_prune_removes_only_expired_ones(app, runner, db, login_as, make_user):
    login_as()
    other = make_user()
    app.test_client().post("/login", data={"email": other.email, "password": PASSWORD})
    db.session.rollback()
    stale = db.session.scalars(select(Session)).first()
    db.session.execute(update(Session).where(Session.id == stale.id).values(last_seen_at=utcnow() - timedelta(days=365)))
    db.session.commit()
    result = runner.invoke(args=["sessions", "prune"])
    assert result.exit_code == 0 and "Pruned 1 expired session(s)" in result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Session)) == 1


def test_seed_demo_gives_a_full_board_and_is_idempotent(runner, db, client):
    assert "Created the demo account" in runner.invoke(args=["seed-demo"]).output
    assert "already exists" in runner.invoke(args=["seed-demo"]).output
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Tablo)) == 1
    assert db.session.scalar(select(func.count()).select_from(Task)) == 7
    assert client.post("/login", data={"email": DEMO_EMAIL, "password": "demo-password"}).status_code == 303
    tablo = db.session.scalar(select(Tablo))
    assert "Design the home page" in client.get(f"/tablos/{tablo.id}").text


def test_the_demo_address_is_one_the_app_accepts(app, client, db, login_as, make_tablo, runner):
    """The demo account can be invited like anyone: the members form takes its address."""
    runner.invoke(args=["seed-demo"])
    tablo = make_tablo(owner=login_as())
    response = client.post(f"/tablos/{tablo.id}/members", data={"email": DEMO_EMAIL, "role": "editor"})
    assert response.status_code == 303
    assert "Demo is now a member." in client.get(response.headers["Location"]).text
