"""Shared tablos: members, roles, email invitations and invitation links."""

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select, update

from tests.conftest import PASSWORD, listed_tablos, mailed_link, page_title
from xtablo.models import Role, TabloInvitation, TabloInviteLink, TabloMember
from xtablo.models._types import utcnow


def roles(db, tablo) -> dict[str, str]:
    db.session.rollback()
    rows = db.session.execute(select(TabloMember).where(TabloMember.tablo_id == tablo.id)).scalars()
    return {m.user.email: m.role for m in rows}


def count(db, model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def owned(login_as, make_tablo):
    owner = login_as()
    return owner, make_tablo(owner=owner, title="Team board", tasks=1)


def test_creator_is_the_first_owner(db, owned):
    owner, tablo = owned
    assert roles(db, tablo) == {owner.email: "owner"}


def test_add_an_existing_account_at_once(client, db, owned, make_user):
    _, tablo = owned
    make_user(name="Bob", email="bob@example.com")
    response = client.post(f"/tablos/{tablo.id}/members", data={"email": "BOB@example.com", "role": "editor"})
    assert response.status_code == 303
    assert roles(db, tablo)["bob@example.com"] == "editor"
    assert "Bob is now a member." in client.get(f"/tablos/{tablo.id}/members").text


def test_unknown_email_becomes_a_member_once_the_new_account_verifies_it(app, client, db, owned, caplog):
    # Since issue 8 a sign-up no longer claims the invitation at once: anyone can sign up with
    # any address, so the tablo waits until the mailed link proves the address is Carol's.
    owner, tablo = owned
    response = client.post(f"/tablos/{tablo.id}/members", data={"email": "carol@example.com", "role": "viewer"})
    assert response.status_code == 303
    assert count(db, TabloInvitation) == 1
    carol = app.test_client()
    carol.post("/signup", data={"name": "Carol", "email": "Carol@Example.com", "password": "long enough", "confirm": "long enough"})
    assert "carol@example.com" not in roles(db, tablo)
    assert listed_tablos(carol.get("/tablos").text) == []
    link = mailed_link(caplog, "/email/verify/")
    assert carol.post(link).status_code == 303
    assert roles(db, tablo)["carol@example.com"] == "viewer"
    assert count(db, TabloInvitation) == 0
    page = carol.get("/tablos").text
    assert listed_tablos(page) == ["Team board"] and "Viewer" in page


def test_an_account_that_has_not_verified_the_address_joins_only_once_it_does(app, client, db, owned, make_user, caplog):
    # Someone may have signed up with Erin's address before she did: adding "the account that
    # uses erin@example.com" must not hand them the tablo.
    _, tablo = owned
    squatter = make_user(name="Not Erin", email="erin@example.com", verified=False)
    response = client.post(f"/tablos/{tablo.id}/members", data={"email": "erin@example.com", "role": "editor"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert "erin@example.com becomes a member once its account verifies this address." in page
    assert "Not Erin" not in page
    assert "erin@example.com" not in roles(db, tablo) and count(db, TabloInvitation) == 1
    browser = app.test_client()
    browser.post("/login", data={"email": squatter.email, "password": PASSWORD})
    assert listed_tablos(browser.get("/tablos").text) == []
    browser.post("/account/email/verification", data={"next": "/tablos"})
    assert browser.post(mailed_link(caplog, "/email/verify/")).status_code == 303  # the address's owner, after all
    assert roles(db, tablo)["erin@example.com"] == "editor"


def test_invitation_is_claimed_at_sign_in_too(app, client, db, owned, make_user):
    _, tablo = owned
    client.post(f"/tablos/{tablo.id}/members", data={"email": "dan@example.com", "role": "editor"})
    # The account appears another way (Google vouching for the address, say) before Dan ever
    # signs in with a password.
    dan = make_user(name="Dan", email="dan@example.com", verified=True)
    app.test_client().post("/login", data={"email": dan.email, "password": PASSWORD})
    assert roles(db, tablo)["dan@example.com"] == "editor"


def test_an_unverified_account_signing_in_leaves_the_invitation_waiting(app, client, db, owned, make_user):
    _, tablo = owned
    client.post(f"/tablos/{tablo.id}/members", data={"email": "dan@example.com", "role": "editor"})
    dan = make_user(name="Dan", email="dan@example.com", verified=False)
    browser = app.test_client()
    assert browser.post("/login", data={"email": dan.email, "password": PASSWORD}).status_code == 303
    assert "dan@example.com" not in roles(db, tablo) and count(db, TabloInvitation) == 1
    assert listed_tablos(browser.get("/tablos").text) == []


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": "not an email", "role": "viewer"}, "Invalid email address."),
        ({"email": "x@example.com", "role": "admin"}, "Not a valid choice"),
        ({"email": "", "role": "viewer"}, "This field is required."),
    ],
)
def test_add_rejects_bad_input(client, db, owned, data, message):
    _, tablo = owned
    response = client.post(f"/tablos/{tablo.id}/members", data=data)
    assert response.status_code == 422 and message in response.text
    assert count(db, TabloMember) == 1 and count(db, TabloInvitation) == 0


def test_cannot_invite_yourself_or_twice(client, db, owned, make_user):
    owner, tablo = owned
    yourself = client.post(f"/tablos/{tablo.id}/members", data={"email": owner.email.upper(), "role": "viewer"})
    assert yourself.status_code == 422 and "You are already a member" in yourself.text
    make_user(name="Bob", email="bob@example.com")
    client.post(f"/tablos/{tablo.id}/members", data={"email": "bob@example.com", "role": "viewer"})
    again = client.post(f"/tablos/{tablo.id}/members", data={"email": "bob@example.com", "role": "editor"})
    assert again.status_code == 422 and "Bob is already a member." in again.text
    client.post(f"/tablos/{tablo.id}/members", data={"email": "eve@example.com", "role": "viewer"})
    twice = client.post(f"/tablos/{tablo.id}/members", data={"email": "eve@example.com", "role": "viewer"})
    assert twice.status_code == 422 and "eve@example.com is already invited." in twice.text
    assert roles(db, tablo)["bob@example.com"] == "viewer"
    assert count(db, TabloInvitation) == 1


def test_change_roles_but_keep_an_owner(client, db, owned, make_user):
    owner, tablo = owned
    mine = db.session.scalar(select(TabloMember).where(TabloMember.user_id == owner.id))
    demote = client.post(f"/tablos/{tablo.id}/members/{mine.id}/role", data={"role": "editor"})
    # Refused on the Members page it leads to: the role address only takes posts.
    assert demote.status_code == 303 and demote.headers["Location"] == f"/tablos/{tablo.id}/members"
    assert "at least one owner" in client.get(demote.headers["Location"]).text
    leave = client.post(f"/tablos/{tablo.id}/leave")
    assert leave.status_code == 409 and "at least one owner" in leave.text
    assert roles(db, tablo)[owner.email] == "owner"

    bob = make_user(email="bob@example.com")
    member = TabloMember.add(tablo, bob, Role.VIEWER, added_by=owner)
    db.session.commit()
    assert client.post(f"/tablos/{tablo.id}/members/{member.id}/role", data={"role": "owner"}).status_code == 303
    assert client.post(f"/tablos/{tablo.id}/members/{mine.id}/role", data={"role": "viewer"}).status_code == 303
    assert roles(db, tablo) == {owner.email: "viewer", "bob@example.com": "owner"}


def test_unknown_role_or_member_of_another_tablo(client, db, owned, make_tablo, make_user):
    owner, tablo = owned
    other = make_tablo(owner=make_user(), title="Other")
    foreign = db.session.scalar(select(TabloMember).where(TabloMember.tablo_id == other.id))
    assert client.post(f"/tablos/{tablo.id}/members/{foreign.id}/role", data={"role": "viewer"}).status_code == 404
    assert client.post(f"/tablos/{tablo.id}/members/{foreign.id}/delete").status_code == 404
    mine = db.session.scalar(select(TabloMember).where(TabloMember.tablo_id == tablo.id))
    refused = client.post(f"/tablos/{tablo.id}/members/{mine.id}/role", data={"role": "god"})
    assert refused.status_code == 303
    assert "Choose a role: viewer, editor or owner." in client.get(refused.headers["Location"]).text
    assert count(db, TabloMember) == 2
    assert roles(db, other) == {foreign.user.email: "owner"}


def test_removing_a_member_takes_effect_at_their_next_request(app, client, db, owned, make_user):
    owner, tablo = owned
    bob = make_user(email="bob@example.com")
    member = TabloMember.add(tablo, bob, Role.EDITOR, added_by=owner)
    db.session.commit()
    bob_browser = app.test_client()
    bob_browser.post("/login", data={"email": bob.email, "password": PASSWORD})
    assert bob_browser.get(f"/tablos/{tablo.id}").status_code == 200
    assert client.post(f"/tablos/{tablo.id}/members/{member.id}/delete").status_code == 303
    assert bob_browser.get(f"/tablos/{tablo.id}").status_code == 404
    assert bob_browser.post(f"/tablos/{tablo.id}/tasks", data={"title": "sneaky", "status": "todo"}).status_code == 404
    assert listed_tablos(bob_browser.get("/tablos").text) == []


def test_anyone_can_leave(app, db, owned, make_user):
    owner, tablo = owned
    bob = make_user(email="bob@example.com")
    TabloMember.add(tablo, bob, Role.VIEWER, added_by=owner)
    db.session.commit()
    bob_browser = app.test_client()
    bob_browser.post("/login", data={"email": bob.email, "password": PASSWORD})
    response = bob_browser.post(f"/tablos/{tablo.id}/leave")
    assert response.status_code == 303 and response.headers["Location"] == "/tablos"
    assert roles(db, tablo) == {owner.email: "owner"}


def test_viewers_read_but_see_no_controls(app, db, owned, make_user):
    owner, tablo = owned
    viewer = make_user(email="viewer@example.com")
    TabloMember.add(tablo, viewer, Role.VIEWER, added_by=owner)
    db.session.commit()
    browser = app.test_client()
    browser.post("/login", data={"email": viewer.email, "password": PASSWORD})
    board = browser.get(f"/tablos/{tablo.id}").text
    assert "Task 1" in board
    assert "Add a task" not in board and "Move…" not in board and 'data-editable="false"' in board
    refused = browser.post(f"/tablos/{tablo.id}/tasks", data={"title": "x", "status": "todo"})
    assert refused.status_code == 403 and "ask an owner to make you an editor" in refused.text


def invite_link(client, tablo, role="viewer", days="7") -> str:
    response = client.post(f"/tablos/{tablo.id}/links", data={"link-role": role, "link-days": days}, follow_redirects=True)
    return re.search(r"http://localhost(/join/[\w-]+)", response.text).group(1)


def test_invitation_link_adds_whoever_opens_it(app, client, db, owned, make_user):
    _, tablo = owned
    path = invite_link(client, tablo, role="editor")
    # The link is shown once: the members page lists it, but not its address.
    members_page = client.get(f"/tablos/{tablo.id}/members").text
    assert page_title(members_page) == "Members · Team board"
    assert re.search(r'<li id="link-\d+">\s*<span>Editor link, expires', members_page)
    assert path not in members_page
    eve = make_user(email="eve@example.com")
    eve_browser = app.test_client()
    assert eve_browser.get(path).status_code == 302  # sign in first
    eve_browser.post("/login", data={"email": eve.email, "password": PASSWORD})
    assert "Join “Team board”" in eve_browser.get(path).text
    assert eve_browser.post(path).status_code == 303
    assert roles(db, tablo)["eve@example.com"] == "editor"


@pytest.mark.parametrize("how, status", [("revoked", 410), ("expired", 410), ("mistyped", 404)])
def test_dead_invitation_links_say_so_and_add_nobody(app, client, db, owned, make_user, how, status):
    """A link that existed is gone (410); one that never did is not found (404)."""
    _, tablo = owned
    path = invite_link(client, tablo)
    if how == "revoked":
        link = db.session.scalar(select(TabloInviteLink))
        assert client.post(f"/tablos/{tablo.id}/links/{link.id}/revoke").status_code == 303
    elif how == "expired":
        db.session.execute(update(TabloInviteLink).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    else:
        path = path[:-3] + "xyz"
    eve = make_user(email="eve@example.com")
    eve_browser = app.test_client()
    eve_browser.post("/login", data={"email": eve.email, "password": PASSWORD})
    for method in ("GET", "POST"):
        response = eve_browser.open(path, method=method)
        assert response.status_code == status
        assert "<h1>This invitation link does not work</h1>" in response.text
    assert "eve@example.com" not in roles(db, tablo)


def test_my_tablos_lists_every_membership_with_its_role(app, db, make_user, make_tablo):
    me = make_user(email="me@example.com")
    mine = make_tablo(owner=me, title="Mine")
    theirs = make_tablo(owner=make_user(), title="Theirs")
    TabloMember.add(theirs, me, Role.EDITOR, added_by=None)
    make_tablo(owner=make_user(), title="Not shared")
    db.session.commit()
    browser = app.test_client()
    browser.post("/login", data={"email": me.email, "password": PASSWORD})
    page = browser.get("/tablos").text
    assert "Mine" in page and "Theirs" in page and "Not shared" not in page
    cards = {re.search(r"<strong>(.*?)</strong>", card).group(1): card for card in page.split('<li class="tablo-card')[1:]}
    assert "Owner" in cards["Mine"] and "Editor" in cards["Theirs"]
    assert f"/tablos/{mine.id}" in cards["Mine"] and f"/tablos/{theirs.id}" in cards["Theirs"]


# -- Removal and invitation links -------------------------------------------------------------


def member_id(db, tablo, user) -> int:
    db.session.rollback()
    return db.session.scalar(select(TabloMember.id).where(TabloMember.tablo_id == tablo.id, TabloMember.user_id == user.id))


def signed_in(app, user):
    browser = app.test_client()
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return browser


REMOVED_SENTENCE = "An owner removed you from “Team board” after this link was made"


def test_a_removed_member_cannot_rejoin_through_a_link_made_before(app, client, db, owned, make_user):
    _, tablo = owned
    old_path = invite_link(client, tablo, role="editor")
    bob = make_user(name="Bob", email="bob@example.com")
    bob_browser = signed_in(app, bob)
    assert bob_browser.post(old_path).status_code == 303
    assert client.post(f"/tablos/{tablo.id}/members/{member_id(db, tablo, bob)}/delete").status_code == 303

    page = bob_browser.get(old_path)
    assert page.status_code == 403
    assert REMOVED_SENTENCE in page.text and "Join the tablo" not in page.text
    refused = bob_browser.post(old_path)
    assert refused.status_code == 403 and REMOVED_SENTENCE in refused.text
    assert "bob@example.com" not in roles(db, tablo)

    # A link made after the removal lets Bob back in.
    new_path = invite_link(client, tablo, role="viewer")
    assert bob_browser.post(new_path).status_code == 303
    assert roles(db, tablo)["bob@example.com"] == "viewer"


def test_adding_back_by_email_forgives_the_removal_and_leaving_blocks_nothing(app, client, db, owned, make_user):
    _, tablo = owned
    old_path = invite_link(client, tablo)
    bob = make_user(name="Bob", email="bob@example.com")
    bob_browser = signed_in(app, bob)
    bob_browser.post(old_path)
    client.post(f"/tablos/{tablo.id}/members/{member_id(db, tablo, bob)}/delete")
    assert bob_browser.get(old_path).status_code == 403

    assert client.post(f"/tablos/{tablo.id}/members", data={"email": "bob@example.com", "role": "editor"}).status_code == 303
    # Bob leaves of his own accord: the old link still lets him come back.
    assert bob_browser.post(f"/tablos/{tablo.id}/leave").status_code == 303
    assert "bob@example.com" not in roles(db, tablo)
    assert "Join “Team board”" in bob_browser.get(old_path).text
    assert bob_browser.post(old_path).status_code == 303
    assert roles(db, tablo)["bob@example.com"] == "viewer"


def test_the_links_section_says_that_removal_blocks_older_links(client, owned):
    _, tablo = owned
    page = client.get(f"/tablos/{tablo.id}/members").text
    assert "Someone you remove cannot rejoin through a link made before their removal." in page


# -- Destructive actions ask first ------------------------------------------------------------


@pytest.fixture
def with_bob_and_a_link(app, client, db, owned, make_user):
    owner, tablo = owned
    bob = make_user(name="Bob", email="bob@example.com")
    TabloMember.add(tablo, bob, Role.EDITOR, added_by=owner)
    link, _token = TabloInviteLink.create(tablo, Role.VIEWER, lifetime=timedelta(days=7), created_by=owner)
    db.session.commit()
    return tablo, bob, link.id


def link_revoked(db, link_id) -> bool:
    db.session.rollback()
    return db.session.get(TabloInviteLink, link_id).revoked_at is not None


@pytest.mark.parametrize("action", ["remove", "leave", "revoke"])
def test_destructive_actions_ask_on_their_own_page_then_act(app, client, db, with_bob_and_a_link, action):
    tablo, bob, link_id = with_bob_and_a_link
    browser, url, question, button, done = {
        "remove": (client, f"/tablos/{tablo.id}/members/{member_id(db, tablo, bob)}/delete", "Remove Bob from “Team board”?",
                   "Remove Bob", lambda: "bob@example.com" not in roles(db, tablo)),
        "leave": (signed_in(app, bob), f"/tablos/{tablo.id}/leave", "Leave “Team board”?",
                  "Leave this tablo", lambda: "bob@example.com" not in roles(db, tablo)),
        "revoke": (client, f"/tablos/{tablo.id}/links/{link_id}/revoke", "Revoke this invitation link to “Team board”?",
                   "Revoke the link", lambda: link_revoked(db, link_id)),
    }[action]

    page = browser.get(url)
    assert page.status_code == 200
    assert question in page.text
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    assert form.group(1) == url and f">{button}</button>" in form.group(2)
    assert f'href="/tablos/{tablo.id}/members">Cancel</a>' in form.group(2)
    assert not done()

    assert browser.post(url).status_code == 303
    assert done()


def test_the_members_page_links_to_the_confirmation_pages(client, db, with_bob_and_a_link):
    tablo, bob, link_id = with_bob_and_a_link
    page = client.get(f"/tablos/{tablo.id}/members").text
    for url in (f"/tablos/{tablo.id}/members/{member_id(db, tablo, bob)}/delete", f"/tablos/{tablo.id}/links/{link_id}/revoke"):
        assert f'href="{url}"' in page
        assert f'action="{url}"' not in page


def test_the_last_owner_is_told_why_they_cannot_leave(client, db, owned, make_user):
    owner, tablo = owned
    page = client.get(f"/tablos/{tablo.id}/members").text
    assert "You are the last owner, so you cannot leave: make someone else owner first." in page
    assert "Leave this tablo" not in page
    confirm = client.get(f"/tablos/{tablo.id}/leave")
    assert confirm.status_code == 200
    assert "You cannot leave “Team board” yet" in confirm.text and "<button" not in confirm.text.split("<main", 1)[1].split("</main>", 1)[0]

    second = make_user(email="second@example.com")
    TabloMember.add(tablo, second, Role.OWNER, added_by=owner)
    db.session.commit()
    page = client.get(f"/tablos/{tablo.id}/members").text
    assert f'href="/tablos/{tablo.id}/leave">Leave this tablo</a>' in page
    assert "You are the last owner" not in page


# -- An invitation link opened while signed out -----------------------------------------------


def test_the_invitation_survives_sign_up(app, client, db, owned):
    _, tablo = owned
    path = invite_link(client, tablo, role="editor")
    # next goes through safe_next, as at sign-in: never to another site.
    elsewhere = app.test_client().post("/signup?next=https://evil.example/", data={"name": "N", "email": "n@example.com", "password": "long enough", "confirm": "long enough"})
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/tablos"
    newcomer = app.test_client()
    to_login = newcomer.get(path)
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    sign_in_page = newcomer.get(login_url).text
    assert "You were invited to the tablo “Team board”: sign in to join it, or create an account." in sign_in_page
    signup_url = re.search(r'<a href="(/signup\?next=[^"]+)">Create an account</a>', sign_in_page).group(1)
    assert unquote(signup_url.split("next=", 1)[1]) == unquote(login_url.split("next=", 1)[1]) == path

    sign_up_page = newcomer.get(signup_url).text
    assert "You were invited to the tablo “Team board”: create your account to join it." in sign_up_page
    assert f'<form method="post" action="{signup_url}"' in sign_up_page
    signed_up = newcomer.post(signup_url, data={"name": "Nora", "email": "nora@example.com", "password": "long enough", "confirm": "long enough"})
    assert signed_up.status_code == 303 and signed_up.headers["Location"] == path
    assert "Join “Team board”" in newcomer.get(path).text
    assert newcomer.post(path).headers["Location"] == f"/tablos/{tablo.id}"
    assert roles(db, tablo)["nora@example.com"] == "editor"


def test_only_a_live_invitation_is_announced(app, client, db, owned):
    _, tablo = owned
    path = invite_link(client, tablo)
    visitor = app.test_client()
    announced = "You were invited to the tablo “Team board”"
    assert announced in visitor.get("/login", query_string={"next": path}).text
    assert announced in visitor.get("/signup", query_string={"next": path}).text

    db.session.execute(update(TabloInviteLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    for next_url in (path, path[:-3] + "xyz", "/tablos", "https://evil.example" + path):
        for page in ("/login", "/signup"):
            response = visitor.get(page, query_string={"next": next_url})
            assert response.status_code == 200 and "You were invited" not in response.text
