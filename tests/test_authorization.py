"""The authorization matrix: every route of the app x every kind of visitor.

The routes are read from the app's URL map, so a new route without an entry here fails
`test_every_route_has_a_matrix_entry`. For each (route, method, visitor) the test checks the
status code, and when the request is refused, that nothing changed in the database.
"""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from xtablo.extensions import db as _db
from xtablo.models import Role, Session, TabloInvitation, TabloInviteLink, TabloMember, Task

VISITORS = ["signed_out", "stranger", "viewer", "editor", "owner"]
RANK = {"public": -2, "user": -1, "viewer": 0, "editor": 1, "owner": 2}

# endpoint -> {method: (who may, form data)}. "public": anyone; "user": anyone signed in;
# "own": a signed-in visitor, on something of their own (here someone else's: 404).
MATRIX = {
    "healthz": {"GET": ("public", {})},
    "auth.signup": {"GET": ("public", {}), "POST": ("public", {"name": "N", "email": "n@example.com", "password": "long enough", "confirm": "long enough"})},
    "auth.login": {"GET": ("public", {}), "POST": ("public", {"email": "{stranger_email}", "password": PASSWORD})},
    "auth.logout": {"POST": ("public", {})},
    "auth.sessions": {"GET": ("user", {})},
    "auth.revoke_session": {"POST": ("own", {})},
    "auth.revoke_other_sessions": {"POST": ("user", {})},
    "auth.change_password": {"GET": ("user", {}), "POST": ("user", {"current_password": PASSWORD, "new_password": "another one", "confirm": "another one"})},
    "tablos.home": {"GET": ("user", {})},
    "tablos.index": {"GET": ("user", {})},
    "tablos.create": {"GET": ("user", {}), "POST": ("user", {"title": "New", "color": "blue"})},
    "tablos.show": {"GET": ("viewer", {})},
    "tablos.edit": {"GET": ("owner", {}), "POST": ("owner", {"title": "Renamed", "color": "red"})},
    "tablos.delete": {"GET": ("owner", {}), "POST": ("owner", {})},
    "tablos.create_task": {"GET": ("viewer", {}), "POST": ("editor", {"title": "T", "status": "todo"})},
    "tablos.task": {"GET": ("viewer", {}), "POST": ("editor", {"title": "Renamed", "status": "done"})},
    "tablos.move_task": {"GET": ("viewer", {}), "POST": ("editor", {"status": "done", "position": "1"})},
    "tablos.delete_task": {"GET": ("editor", {}), "POST": ("editor", {})},
    "members.index": {"GET": ("viewer", {})},
    "members.add": {"POST": ("owner", {"email": "newcomer@example.com", "role": "viewer"})},
    "members.change_role": {"POST": ("owner", {"role": "editor"})},
    "members.remove": {"GET": ("owner", {}), "POST": ("owner", {})},
    "members.leave": {"GET": ("viewer", {}), "POST": ("viewer", {})},
    "members.cancel_invitation": {"POST": ("owner", {})},
    "members.create_link": {"POST": ("owner", {"link-role": "viewer", "link-days": "7"})},
    "members.revoke_link": {"GET": ("owner", {}), "POST": ("owner", {})},
    "members.join": {"GET": ("user", {}), "POST": ("user", {})},
}

CASES = [(endpoint, method) for endpoint, methods in MATRIX.items() for method in methods]


def test_every_route_has_a_matrix_entry(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(CASES)


@pytest.fixture
def world(db, make_user, make_tablo):
    """A tablo with an owner (and a second owner), an editor, a viewer and one more member, a
    task, a pending invitation and an invitation link; and a stranger."""
    owner, owner2, editor, viewer, extra, stranger = (make_user(name=n) for n in ("Owner", "Owner2", "Editor", "Viewer", "Extra", "Stranger"))
    tablo = make_tablo(owner=owner, title="Shared", tasks=2)
    members = {}
    for user, role in ((owner2, Role.OWNER), (editor, Role.EDITOR), (viewer, Role.VIEWER), (extra, Role.VIEWER)):
        members[user.name] = TabloMember.add(tablo, user, role, added_by=owner)
    invitation = TabloInvitation.invite(tablo, "pending@example.com", Role.EDITOR, invited_by=owner)
    link, token = TabloInviteLink.create(tablo, Role.VIEWER, lifetime=timedelta(days=1), created_by=owner)
    db.session.commit()
    other_session = Session.open(extra, user_agent="elsewhere", ip_address="10.0.0.9")[0]
    db.session.commit()
    ids = {
        "tablo_id": tablo.id,
        "task_id": db.session.scalar(select(Task.id).where(Task.tablo_id == tablo.id)),
        "member_id": members["Extra"].id,
        "invitation_id": invitation.id,
        "link_id": link.id,
        "token": token,
        "session_id": other_session.id,
        "stranger_email": stranger.email,
    }
    users = {"stranger": stranger, "viewer": viewer, "editor": editor, "owner": owner}
    return ids, users


def snapshot(db) -> dict:
    """Every row of every table, less what any request touches (last seen, sign-in counters)."""
    db.session.rollback()
    state = {}
    for table in _db.metadata.sorted_tables:
        if table.name == "rate_limit_counters":
            continue
        columns = [c for c in table.columns if c.name not in ("last_seen_at",)]
        rows = db.session.execute(select(*columns).order_by(*table.primary_key.columns)).all()
        state[table.name] = [tuple(row) for row in rows]
    db.session.rollback()
    return state


def expected_status(needed: str, visitor: str) -> int | None:
    """The refusal a visitor meets, or None when the request should go through."""
    if needed == "public":
        return None
    if visitor == "signed_out":
        return 302
    if needed == "own":
        return 404
    if needed == "user":
        return None
    if visitor == "stranger":
        return 404
    return 403 if RANK[visitor] < RANK[needed] else None


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("endpoint, method", CASES)
def test_authorization_matrix(app, client, db, world, endpoint, method, visitor):
    ids, users = world
    needed, data = MATRIX[endpoint][method]
    if visitor != "signed_out":
        assert client.post("/login", data={"email": users[visitor].email, "password": PASSWORD}).status_code == 303
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        from flask import url_for

        url = url_for(endpoint, **{arg: ids[arg] for arg in rule.arguments})
    before = snapshot(db)

    response = client.open(url, method=method, data={k: v.format(**ids) for k, v in data.items()})

    refusal = expected_status(needed, visitor)
    if refusal is None:
        assert response.status_code < 400, response.text[:500]
    else:
        assert response.status_code == refusal
        if refusal == 302:
            assert response.headers["Location"].startswith("/login")
        if refusal == 403:
            assert "Not allowed" in response.text
        assert snapshot(db) == before
