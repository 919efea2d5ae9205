"""The authorization matrix: every route of the app x every kind of visitor.

The routes are read from the app's URL map, so a new route without an entry here fails
`test_every_route_has_a_matrix_entry`. For each (route, method, visitor) the test checks the
status code; when the request is refused, that nothing changed in the database; when it is
allowed, that it did what it is for (its entry in EFFECTS, which every route needs too).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

import pytest
from flask import url_for
from sqlalchemy import func, select

from tests.conftest import PASSWORD, listed_tablos, page_title, signed_in_as
from tests.test_planning import planned
from xtablo import calendar
from xtablo.extensions import db as _db
from xtablo.models import (Etape, MessageChange, Role, Session, Tablo, TabloEvent, TabloInvitation, TabloInviteLink, TabloMember, TabloMessage,
                           Task, User, UserIdentity)
from xtablo.models.user import verify_password

VISITORS = ["signed_out", "stranger", "viewer", "editor", "owner"]
MEMBERS = {"viewer", "editor", "owner"}
RANK = {"public": -2, "user": -1, "viewer": 0, "editor": 1, "owner": 2}
# Whose the world's rows of an "own" route are (the session the URL names): that visitor goes
# through, everyone else gets 404.
OWN_ROWS_BELONG_TO = "editor"
# Who wrote the world's chat message: its author edits it (whatever their role: an owner may
# not), its author or an owner deletes it; other members get 403, strangers 404.
MESSAGE_AUTHOR = "editor"

# endpoint -> {method: (who may, form data)}. "public": anyone; "user": anyone signed in;
# "own": a signed-in visitor, on something of their own (OWN_ROWS_BELONG_TO's; others: 404);
# "link's": the account a mailed link names (the stranger's), signed in: the link proves the
# mailbox, the session the account (signed out: sign in and come back; another account: 403).
# "author", "author or owner": a member, on the world's chat message (MESSAGE_AUTHOR's).
MATRIX = {
    "healthz": {"GET": ("public", {})},
    "auth.signup": {"GET": ("public", {}), "POST": ("public", {"name": "N", "email": "n@example.com", "password": "long enough", "confirm": "long enough"})},
    "auth.login": {"GET": ("public", {}), "POST": ("public", {"email": "{stranger_email}", "password": PASSWORD})},
    "auth.logout": {"POST": ("public", {})},
    "auth.sessions": {"GET": ("user", {})},
    "auth.account": {"GET": ("user", {}), "POST": ("user", {"name": "Renamed", "language": "fr"})},
    "auth.resend_verification": {"POST": ("user", {"next": "/account"})},
    "auth.verify_email": {"GET": ("public", {}), "POST": ("link's", {})},
    "auth.change_email": {"POST": ("user", {"email-new_email": "moved@example.com", "email-current_password": PASSWORD})},
    "auth.confirm_email_change": {"GET": ("public", {}), "POST": ("link's", {})},
    "auth.forgot_password": {"GET": ("public", {}), "POST": ("public", {"email": "{stranger_email}"})},
    "auth.reset_password": {"GET": ("public", {}), "POST": ("public", {"new_password": "another one", "confirm": "another one"})},
    "auth.language": {"POST": ("public", {"lang": "fr", "next": "/nowhere"})},  # a 404: a page for anyone
    "auth.google_login": {"GET": ("public", {})},
    "auth.apple_login": {"GET": ("public", {})},
    "auth.google_callback": {"GET": ("public", {})},  # without a flow of this browser: refused, said why
    "auth.apple_callback": {"POST": ("public", {"code": "c", "state": "s"})},  # the relay page
    "auth.confirm_link": {"GET": ("public", {}), "POST": ("public", {"password": PASSWORD})},  # nothing pending
    "auth.unlink_identity": {"POST": ("own", {})},
    "auth.link_identity": {"GET": ("user", {}), "POST": ("user", {"password": PASSWORD})},
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
    "tablos.task": {"GET": ("viewer", {}), "POST": ("editor", {"title": "Renamed"})},
    "tablos.move_task": {"GET": ("viewer", {}), "POST": ("editor", {"status": "done", "position": "1"})},
    "tablos.delete_task": {"GET": ("editor", {}), "POST": ("editor", {})},
    "etapes.index": {"GET": ("viewer", {}), "POST": ("editor", {"title": "Finitions"})},
    "etapes.edit": {"GET": ("editor", {}), "POST": ("editor", {"title": "Études renamed"})},
    "etapes.move": {"GET": ("viewer", {}), "POST": ("editor", {"position": "2"})},
    "etapes.delete": {"GET": ("editor", {}), "POST": ("editor", {})},
    "etapes.file_task": {"GET": ("viewer", {}), "POST": ("editor", {"task_id": "{second_task_id}"})},
    "etapes.set_etape": {"GET": ("viewer", {}), "POST": ("editor", {"etape_id": ""})},
    "events.index": {"GET": ("viewer", {}), "POST": ("editor", {"title": "Kick-off", "start_date": "2031-01-06", "start_time": "09:00"})},
    "events.event": {"GET": ("viewer", {}), "POST": ("editor", {"title": "Renamed", "start_date": "2031-01-05", "start_time": "10:00"})},
    "events.delete": {"GET": ("editor", {}), "POST": ("editor", {})},
    "events.ics": {"GET": ("viewer", {})},
    "planning.index": {"GET": ("user", {})},
    "planning.renew_feed": {"GET": ("user", {}), "POST": ("user", {})},
    "planning.turn_off_feed": {"GET": ("user", {}), "POST": ("user", {})},
    # The feed's token is the key, whoever holds it (the owner's feed here): no session needed.
    "planning.feed": {"GET": ("public", {})},
    "chat.index": {"GET": ("viewer", {}), "POST": ("viewer", {"body": "Hello @Owner", "client_key": "matrix-key"})},
    "chat.edit": {"GET": ("author", {}), "POST": ("author", {"body": "Edited"})},
    "chat.delete": {"POST": ("author or owner", {})},
    "chat.stream": {"GET": ("viewer", {})},
    "chat.read": {"POST": ("viewer", {"up_to": "{message_id}"})},
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
    """A tablo "Shared" with an owner (and a second owner), an editor, a viewer and one more
    member, two tasks, two étapes (the first task filed under the first), a pending invitation
    and an invitation link; and a stranger, whose email
    is not verified yet (the links of the world are the stranger's). Every visitor is also signed
    in on another browser ("elsewhere")."""
    owner, owner2, editor, viewer, extra = (make_user(name=n) for n in ("Owner", "Owner2", "Editor", "Viewer", "Extra"))
    stranger = make_user(name="Stranger", verified=False)
    tablo = make_tablo(owner=owner, title="Shared", tasks=2)
    members = {}
    for user, role in ((owner2, Role.OWNER), (editor, Role.EDITOR), (viewer, Role.VIEWER), (extra, Role.VIEWER)):
        members[user.name] = TabloMember.add(tablo, user, role, added_by=owner)
    invitation = TabloInvitation.invite(tablo, "pending@example.com", Role.EDITOR, invited_by=owner)
    link, token = TabloInviteLink.create(tablo, Role.VIEWER, lifetime=timedelta(days=1), created_by=owner)
    etudes = Etape.create(tablo, title="Études")
    Etape.create(tablo, title="Gros œuvre")
    first_task, second_task = db.session.scalars(select(Task).where(Task.tablo_id == tablo.id).order_by(Task.position))
    first_task.file_under(etudes.id)
    for user in (owner, editor, viewer, stranger):
        calendar.renew_feed(user)  # every visitor's feed is on: turning it off must change something
    message, _ = TabloMessage.create(tablo, author={"editor": editor}[MESSAGE_AUTHOR], body="Hello from the editor", client_key="world")
    visit = TabloEvent.create(tablo, by=owner, title="Site visit", starts_at=datetime(2031, 1, 5, 9, tzinfo=UTC),
                              ends_at=datetime(2031, 1, 5, 10, tzinfo=UTC))
    db.session.commit()
    users = {"stranger": stranger, "viewer": viewer, "editor": editor, "owner": owner}
    elsewhere = {name: Session.open(user, user_agent="elsewhere", ip_address="10.0.0.9")[0] for name, user in users.items()}
    identity = UserIdentity(user=users[OWN_ROWS_BELONG_TO], provider="google", provider_subject="g-own", email="own@gmail.com", email_verified=True)
    db.session.add(identity)
    db.session.commit()
    ids = {
        "tablo_id": tablo.id,
        "task_id": first_task.id,
        "second_task_id": second_task.id,
        "etape_id": etudes.id,
        "event_id": visit.id,
        "message_id": message.id,
        "feed_token": calendar.feed_token(owner),
        "feed_tokens": {name: calendar.feed_token(user) for name, user in users.items()},
        "member_id": members["Extra"].id,
        "invitation_id": invitation.id,
        "link_id": link.id,
        "token": token,
        "session_id": elsewhere[OWN_ROWS_BELONG_TO].id,
        "identity_id": identity.id,
        "provider_name": "apple",
        "stranger_email": stranger.email,
        "stranger_id": stranger.id,
        "reset_token": stranger.reset_token(),
        "verify_token": stranger.verification_token(),
        "email_token": stranger.email_change_token("stranger-new@example.com"),
    }
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
    if needed == "link's":
        return None if visitor == "stranger" else 303 if visitor == "signed_out" else 403
    if visitor == "signed_out":
        return 302
    if needed == "own":
        return None if visitor == OWN_ROWS_BELONG_TO else 404
    if needed in ("author", "author or owner"):
        if visitor == "stranger":
            return 404
        return None if visitor == MESSAGE_AUTHOR or (needed == "author or owner" and visitor == "owner") else 403
    if needed == "user":
        return None
    if visitor == "stranger":
        return 404
    return 403 if RANK[visitor] < RANK[needed] else None


def request_for(app, endpoint: str, method: str, ids: dict) -> tuple[str, dict]:
    """The URL and form data of a matrix case, on the world's rows."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        url = url_for(endpoint, **{arg: ids[arg] for arg in rule.arguments - set(rule.defaults or {})})
    return url, {k: v.format(**ids) for k, v in MATRIX[endpoint][method][1].items()}


# -- What an allowed request does ---------------------------------------------------------------


@dataclass
class Outcome:
    """An allowed request that went through, for its EFFECTS entry to look at."""

    response: object
    client: object
    visitor: str
    user: User | None  # None when signed out
    ids: dict

    @cached_property
    def page(self) -> str:
        """What the person sees next: the response, or the page it redirects to."""
        if self.response.status_code in (302, 303):
            return self.client.get(self.response.location).text
        return self.response.text

    @property
    def title(self) -> str:
        return page_title(self.page)

    def who(self) -> str | None:
        return signed_in_as(self.client)

    def me(self) -> str | None:
        return self.user.name if self.user else None


def followed(o: Outcome) -> str:
    """The page the person lands on after every redirect."""
    return o.client.get(o.response.location, follow_redirects=True).text


def fresh(model, key):
    _db.session.rollback()
    return _db.session.get(model, key)


def scalar(stmt):
    _db.session.rollback()
    return _db.session.scalar(stmt)


def role_of(o: Outcome) -> str | None:
    return scalar(select(TabloMember.role).where(TabloMember.tablo_id == o.ids["tablo_id"], TabloMember.user_id == o.user.id))


def sessions_of(user: User) -> int:
    """The user's sessions still signed in (ended ones stay as tombstones for a while)."""
    return scalar(select(func.count()).select_from(Session).where(Session.user_id == user.id, Session.ended_at.is_(None)))


def ended(session_id: int) -> bool:
    row = fresh(Session, session_id)
    return row is None or row.ended_at is not None


def users_named_n() -> int:
    return scalar(select(func.count()).select_from(User).where(User.email == "n@example.com"))


def to_do(o: Outcome) -> list[str]:
    """The titles in the tablo's "To do" column, top to bottom."""
    _db.session.rollback()
    stmt = select(Task.title).where(Task.tablo_id == o.ids["tablo_id"], Task.status == "todo").order_by(Task.position)
    return list(_db.session.scalars(stmt))


def cards(page: str) -> list[str]:
    return re.findall(r'class="task-title"[^>]*>([^<]+)</a>', page)


def etape_titles(page: str) -> list[str]:
    return re.findall(r'<h2 id="etape-\d+-title"[^>]*>([^<]+)</h2>', page)


def etapes_in_order(o: Outcome) -> list[str]:
    _db.session.rollback()
    return list(_db.session.scalars(select(Etape.title).where(Etape.tablo_id == o.ids["tablo_id"]).order_by(Etape.position)))


def old_feed_is_dead(o: Outcome) -> bool:
    """The feed address the visitor had before now opens nothing."""
    _db.session.rollback()
    return calendar.user_of_feed(o.ids["feed_tokens"][o.visitor]) is None


def member_names(page: str) -> list[str]:
    return re.findall(r'<li id="member-\d+">\s*<div>\s*<strong>([^<]*)</strong>', page)


def chat_messages(page: str) -> list[str]:
    """The text of each message on a Chat tab, in order."""
    return [re.sub(r"<[^>]+>", "", body) for body in re.findall(r'<p class="message-body[^"]*"(?: dir="auto")?>(.*?)</p>', page, re.S)]


def read_mark(o: Outcome) -> int | None:
    return scalar(select(TabloMember.last_read_message_id).where(TabloMember.tablo_id == o.ids["tablo_id"], TabloMember.user_id == o.user.id))


def world_message(o: Outcome) -> TabloMessage:
    return fresh(TabloMessage, o.ids["message_id"])


def last_change(o: Outcome) -> tuple[int, str]:
    _db.session.rollback()
    change = _db.session.scalars(select(MessageChange).order_by(MessageChange.id.desc())).first()
    return change.message_id, change.kind


def stream_opens(o: Outcome) -> bool:
    """An event stream with nothing to replay (no Last-Event-ID); from the start, it replays the
    world's message. Each is read up to its first chunk and closed: a stream never ends by itself."""
    first = next(o.response.iter_encoded()).decode()
    o.response.close()
    again = o.client.get(f"/tablos/{o.ids['tablo_id']}/messages/stream?last_event_id=0", buffered=False)
    replayed = next(again.iter_encoded()).decode()
    again.close()
    return (o.response.mimetype == "text/event-stream" and first == "retry: 2000\n\n"
            and f'id="message-{o.ids["message_id"]}"' in replayed and "event: message-created" in replayed)


def shown_link_works(o: Outcome) -> bool:
    token = re.search(r"/join/([\w-]+)", o.page).group(1)
    link = scalar(select(TabloInviteLink).where(TabloInviteLink.tablo_id == o.ids["tablo_id"], TabloInviteLink.id != o.ids["link_id"]))
    return link is not None and TabloInviteLink.by_token(token) == link


# (endpoint, method) -> what must be true after the request, for every visitor allowed to make it.
EFFECTS = {
    ("healthz", "GET"): lambda o: o.response.json == {"status": "ok"},
    ("auth.signup", "GET"): lambda o: o.title == ("Sign up" if o.user is None else "My tablos"),
    ("auth.signup", "POST"): lambda o: o.who() == ("N" if o.user is None else o.me()) and users_named_n() == (1 if o.user is None else 0),
    ("auth.login", "GET"): lambda o: o.title == ("Sign in" if o.user is None else "My tablos"),
    ("auth.login", "POST"): lambda o: o.who() == ("Stranger" if o.user is None else o.me()),
    ("auth.logout", "POST"): lambda o: o.who() is None and (o.user is None or sessions_of(o.user) == 1),
    ("auth.forgot_password", "GET"): lambda o: o.title == "Forgot your password?",
    ("auth.forgot_password", "POST"): lambda o: o.response.location == "/login"
    and "a link to choose a new password is on its way" in o.client.get("/login", follow_redirects=True).text,
    ("auth.reset_password", "GET"): lambda o: o.title == "Choose a new password",
    ("auth.reset_password", "POST"): lambda o: o.who() == "Stranger" and sessions_of(fresh(User, o.ids["stranger_id"])) == 1
    and verify_password(fresh(User, o.ids["stranger_id"]).password_hash, "another one") and fresh(User, o.ids["stranger_id"]).email_verified,
    ("auth.account", "GET"): lambda o: o.title == "Your account" and o.user.email in o.page,
    ("auth.account", "POST"): lambda o: (fresh(User, o.user.id).name, fresh(User, o.user.id).locale) == ("Renamed", "fr")
    and o.client.get_cookie("xtablo_lang").value == "fr",
    ("auth.resend_verification", "POST"): lambda o: o.response.location == "/account"
    and (f"We sent a new link to {o.ids['stranger_email']}." if o.visitor == "stranger" else "Your email is already verified.") in o.page,
    ("auth.verify_email", "GET"): lambda o: o.title == "Verify your email" and not fresh(User, o.ids["stranger_id"]).email_verified
    and ("Verify my email</button>" in o.page if o.visitor == "stranger" else "Sign in to verify</a>" in o.page if o.user is None
         else "this browser is signed in to another account" in o.page),
    ("auth.verify_email", "POST"): lambda o: fresh(User, o.ids["stranger_id"]).email_verified
    and f"Your email {o.ids['stranger_email']} is verified." in o.page,
    ("auth.change_email", "POST"): lambda o: o.response.location == "/account" and "We sent a link to moved@example.com" in o.page
    and fresh(User, o.user.id).email == o.user.email,
    ("auth.confirm_email_change", "GET"): lambda o: o.title == "Change your email" and "stranger-new@example.com" in o.page
    and fresh(User, o.ids["stranger_id"]).email == o.ids["stranger_email"]
    and ("Use stranger-new@example.com</button>" in o.page if o.visitor == "stranger" else "Sign in to confirm</a>" in o.page if o.user is None
         else "This browser is signed in to another account" in o.page),
    ("auth.confirm_email_change", "POST"): lambda o: fresh(User, o.ids["stranger_id"]).email == "stranger-new@example.com"
    and fresh(User, o.ids["stranger_id"]).email_verified and "Your xtablo email is now stranger-new@example.com." in o.page,
    ("auth.language", "POST"): lambda o: o.client.get_cookie("xtablo_lang").value == "fr" and '<html lang="fr">' in o.page
    and (o.user is None or fresh(User, o.user.id).locale == "fr"),
    ("auth.google_login", "GET"): lambda o: o.response.location == "/tablos" if o.user else re.match(r"http://127\.0\.0\.1:\d+/authorize\?", o.response.location),
    ("auth.apple_login", "GET"): lambda o: o.response.location == "/tablos" if o.user else re.match(r"http://localhost:\d+/authorize\?", o.response.location),
    ("auth.google_callback", "GET"): lambda o: "That sign-in with Google expired or was already used." in followed(o),
    ("auth.apple_callback", "POST"): lambda o: o.title == "Signing in with Apple" and 'name="relayed" value="1"' in o.page,
    ("auth.confirm_link", "GET"): lambda o: "That sign-in expired. Try again." in followed(o),
    ("auth.confirm_link", "POST"): lambda o: "That sign-in expired. Try again." in followed(o) and o.who() == o.me(),
    ("auth.link_identity", "GET"): lambda o: o.title == "Link Apple" and "Continue to Apple" in o.page,
    ("auth.link_identity", "POST"): lambda o: re.match(r"http://localhost:\d+/authorize\?", o.response.location) is not None,
    ("auth.unlink_identity", "POST"): lambda o: fresh(UserIdentity, o.ids["identity_id"]) is None and "Google is unlinked" in o.page,
    ("auth.sessions", "GET"): lambda o: o.title == "Active sessions" and o.page.count('<li id="session-') == 2,
    ("auth.revoke_session", "POST"): lambda o: ended(o.ids["session_id"]) and o.who() == o.me(),
    ("auth.revoke_other_sessions", "POST"): lambda o: sessions_of(o.user) == 1 and o.who() == o.me(),
    ("auth.change_password", "GET"): lambda o: o.title == "Change password",
    ("auth.change_password", "POST"): lambda o: fresh(User, o.user.id).check_password("another one") and sessions_of(o.user) == 1 and o.who() == o.me(),
    ("tablos.home", "GET"): lambda o: o.title == "My tablos",
    ("tablos.index", "GET"): lambda o: listed_tablos(o.page) == (["Shared"] if o.visitor in MEMBERS else []),
    ("tablos.create", "GET"): lambda o: o.title == "New tablo",
    ("tablos.create", "POST"): lambda o: o.title == "New" and listed_tablos(o.client.get("/tablos").text).count("New") == 1,
    ("tablos.show", "GET"): lambda o: o.title == "Shared" and cards(o.page) == ["Task 1", "Task 2"],
    ("tablos.edit", "GET"): lambda o: o.title == "Edit Shared" and 'value="Shared"' in o.page,
    ("tablos.edit", "POST"): lambda o: (fresh(Tablo, o.ids["tablo_id"]).title, fresh(Tablo, o.ids["tablo_id"]).color) == ("Renamed", "red"),
    ("tablos.delete", "GET"): lambda o: o.title == "Delete Shared" and fresh(Tablo, o.ids["tablo_id"]) is not None,
    ("tablos.delete", "POST"): lambda o: fresh(Tablo, o.ids["tablo_id"]) is None,
    ("tablos.create_task", "GET"): lambda o: o.response.location == f"/tablos/{o.ids['tablo_id']}" and o.title == "Shared",
    ("tablos.create_task", "POST"): lambda o: to_do(o) == ["Task 1", "Task 2", "T"],
    ("tablos.task", "GET"): lambda o: o.title == f"{fresh(Task, o.ids['task_id']).title} · Shared",
    ("tablos.task", "POST"): lambda o: fresh(Task, o.ids["task_id"]).title == "Renamed" and "Task saved." in o.page,
    ("tablos.move_task", "GET"): lambda o: o.response.location.endswith("#move") and o.title == f"{fresh(Task, o.ids['task_id']).title} · Shared",
    ("tablos.move_task", "POST"): lambda o: (fresh(Task, o.ids["task_id"]).status, fresh(Task, o.ids["task_id"]).position) == ("done", 0),
    ("tablos.delete_task", "GET"): lambda o: o.title == "Delete task" and fresh(Task, o.ids["task_id"]) is not None,
    ("tablos.delete_task", "POST"): lambda o: fresh(Task, o.ids["task_id"]) is None and len(to_do(o)) == 1,
    ("etapes.index", "GET"): lambda o: o.title == "Étapes · Shared" and etape_titles(o.page) == ["Études", "Gros œuvre"]
    and "0 / 1 done" in o.page and "0 / 0 done" in o.page,
    ("etapes.index", "POST"): lambda o: etapes_in_order(o) == ["Études", "Gros œuvre", "Finitions"]
    and etape_titles(o.page) == ["Études", "Gros œuvre", "Finitions"],
    ("etapes.edit", "GET"): lambda o: o.title == "Edit Études · Shared" and 'value="Études"' in o.page,
    ("etapes.edit", "POST"): lambda o: etapes_in_order(o) == ["Études renamed", "Gros œuvre"] and "Étape saved." in o.page,
    ("etapes.move", "GET"): lambda o: o.response.location == f"/tablos/{o.ids['tablo_id']}/etapes",
    ("etapes.move", "POST"): lambda o: etapes_in_order(o) == ["Gros œuvre", "Études"] and etape_titles(o.page) == ["Gros œuvre", "Études"],
    ("etapes.delete", "GET"): lambda o: o.title == "Delete Études" and "Its task will be ungrouped" in o.page and etapes_in_order(o) == ["Études", "Gros œuvre"],
    ("etapes.delete", "POST"): lambda o: etapes_in_order(o) == ["Gros œuvre"] and fresh(Task, o.ids["task_id"]).etape_id is None,
    ("etapes.file_task", "GET"): lambda o: o.response.location == f"/tablos/{o.ids['tablo_id']}/etapes",
    ("etapes.file_task", "POST"): lambda o: fresh(Task, o.ids["second_task_id"]).etape_id == o.ids["etape_id"] and "0 / 2 done" in o.page,
    ("etapes.set_etape", "GET"): lambda o: o.response.location == f"/tablos/{o.ids['tablo_id']}/etapes",
    ("etapes.set_etape", "POST"): lambda o: fresh(Task, o.ids["task_id"]).etape_id is None and "0 / 0 done" in o.page,
    ("events.index", "GET"): lambda o: o.title == "Events · Shared" and "Site visit" in o.page and "Sun, Jan 5, 2031 · 9:00" in o.page,
    ("events.index", "POST"): lambda o: "Event “Kick-off” added." in o.page
    and scalar(select(TabloEvent.starts_at).where(TabloEvent.title == "Kick-off")) == datetime(2031, 1, 6, 9, tzinfo=UTC),
    ("events.event", "GET"): lambda o: o.title == "Site visit · Shared" and "Sun, Jan 5, 2031 · 9:00" in o.page,
    ("events.event", "POST"): lambda o: (fresh(TabloEvent, o.ids["event_id"]).title, fresh(TabloEvent, o.ids["event_id"]).sequence,
                                         fresh(TabloEvent, o.ids["event_id"]).starts_at) == ("Renamed", 1, datetime(2031, 1, 5, 10, tzinfo=UTC)),
    ("events.delete", "GET"): lambda o: o.title == "Delete Site visit" and fresh(TabloEvent, o.ids["event_id"]) is not None,
    ("events.delete", "POST"): lambda o: fresh(TabloEvent, o.ids["event_id"]) is None,
    ("planning.index", "GET"): lambda o: o.title == "Planning" and planned(o.client.get("/planning?view=month&date=2031-01-05").text)
    == ({"2031-01-05": ["Site visit"]} if o.visitor in MEMBERS else {}),
    ("planning.renew_feed", "GET"): lambda o: o.response.location == "/planning#feed",
    ("planning.renew_feed", "POST"): lambda o: old_feed_is_dead(o) and f"/calendar/{o.user.id}-" in o.page,
    ("planning.turn_off_feed", "GET"): lambda o: o.response.location == "/planning#feed",
    ("planning.turn_off_feed", "POST"): lambda o: fresh(User, o.user.id).feed_salt is None and "Your calendar feed is off" in o.page,
    ("planning.feed", "GET"): lambda o: o.response.content_type == "text/calendar; charset=utf-8" and b"SUMMARY:Site visit" in o.response.data,
    ("events.ics", "GET"): lambda o: o.response.content_type == "text/calendar; charset=utf-8" and b"SUMMARY:Site visit" in o.response.data,
    # Reading clears one's unread count: the author had none (their own message does not count).
    ("chat.index", "GET"): lambda o: o.title == "Chat · Shared" and chat_messages(o.page) == ["Hello from the editor"]
    and read_mark(o) == (None if o.visitor == MESSAGE_AUTHOR else o.ids["message_id"]),
    ("chat.index", "POST"): lambda o: chat_messages(o.page) == ["Hello from the editor", "Hello @Owner"]
    and scalar(select(TabloMessage.author_user_id).where(TabloMessage.client_key == "matrix-key")) == o.user.id,
    ("chat.edit", "GET"): lambda o: o.title == "Edit message · Shared" and "Hello from the editor</textarea>" in o.page,
    ("chat.edit", "POST"): lambda o: world_message(o).body == "Edited" and world_message(o).edited_at is not None
    and last_change(o) == (o.ids["message_id"], "edited"),
    ("chat.delete", "POST"): lambda o: world_message(o).deleted_at is not None and world_message(o).body == ""
    and chat_messages(o.page) == ["Message deleted"] and last_change(o) == (o.ids["message_id"], "deleted"),
    ("chat.stream", "GET"): stream_opens,
    ("chat.read", "POST"): lambda o: o.response.status_code == 204 and read_mark(o) == o.ids["message_id"],
    ("members.index", "GET"): lambda o: o.title == "Members · Shared" and member_names(o.page) == ["Editor", "Extra", "Owner", "Owner2", "Viewer"],
    ("members.add", "POST"): lambda o: scalar(select(TabloInvitation.role).where(TabloInvitation.email == "newcomer@example.com")) == Role.VIEWER,
    ("members.change_role", "POST"): lambda o: fresh(TabloMember, o.ids["member_id"]).role == Role.EDITOR,
    ("members.remove", "GET"): lambda o: o.title == "Remove Extra · Shared" and fresh(TabloMember, o.ids["member_id"]) is not None,
    ("members.remove", "POST"): lambda o: fresh(TabloMember, o.ids["member_id"]) is None,
    ("members.leave", "GET"): lambda o: o.title == "Leave Shared" and role_of(o) == o.visitor,
    ("members.leave", "POST"): lambda o: role_of(o) is None,
    ("members.cancel_invitation", "POST"): lambda o: fresh(TabloInvitation, o.ids["invitation_id"]) is None,
    ("members.create_link", "POST"): shown_link_works,
    ("members.revoke_link", "GET"): lambda o: o.title == "Revoke an invitation link · Shared" and fresh(TabloInviteLink, o.ids["link_id"]).revoked_at is None,
    ("members.revoke_link", "POST"): lambda o: fresh(TabloInviteLink, o.ids["link_id"]).revoked_at is not None,
    ("members.join", "GET"): lambda o: o.title == "Invitation" and "<h1>Join “Shared”</h1>" in o.page,
    ("members.join", "POST"): lambda o: role_of(o) == ("viewer" if o.visitor == "stranger" else o.visitor),
}


def test_every_route_has_an_effect():
    assert set(EFFECTS) == set(CASES)


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("endpoint, method", CASES)
def test_authorization_matrix(app, client, db, world, endpoint, method, visitor):
    ids, users = world
    if visitor != "signed_out":
        assert client.post("/login", data={"email": users[visitor].email, "password": PASSWORD}).status_code == 303
    url, data = request_for(app, endpoint, method, ids)
    before = snapshot(db)

    response = client.open(url, method=method, data=data)

    refusal = expected_status(MATRIX[endpoint][method][0], visitor)
    if refusal is None:
        assert response.status_code < 400, response.text[:500]
        assert EFFECTS[endpoint, method](Outcome(response, client, visitor, users.get(visitor), ids)), "the request did not do its job"
    else:
        assert response.status_code == refusal
        if refusal in (302, 303):
            assert response.headers["Location"].startswith("/login")
        if refusal == 403:
            assert "Not allowed" in response.text
        assert snapshot(db) == before
