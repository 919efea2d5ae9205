"""Verified emails (issue 8): a password sign-up is signed in at once and mailed a link; a banner
asks for it on every page; the link verifies only when its page is confirmed (POST); invitations
to the email wait until then; a password reset and `flask users verify` verify too."""

import html
import importlib.util
import re
import time
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from tests.conftest import PASSWORD, Client, TestingConfig, listed_tablos, mailed_link, mails, page_title
from xtablo import create_app
from xtablo.models import Role, Tablo, TabloInvitation, TabloMember, User

SIGN_UP = {"name": "Ada", "email": "Ada@Example.com", "password": PASSWORD, "confirm": PASSWORD}
BANNER = "Verify your email: we sent a link to {}."
WAITING = "If someone invited you, their tablos appear here once your email is verified."


def banner_of(page: str) -> str | None:
    """The banner's sentence, or None when the page has no banner."""
    found = re.search(r'<div class="banner" id="verify-banner">\s*<p>([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash flash-\w+">([^<]*)</p>', page)]


def fresh_user(db, email: str) -> User:
    db.session.rollback()
    return db.session.scalar(select(User).where(User.email == email))


def member_tablos(db, user: User) -> list[str]:
    db.session.rollback()
    return sorted(db.session.scalars(select(Tablo.title).join(TabloMember).where(TabloMember.user_id == user.id)))


def sign_up(client, caplog) -> str:
    """Sign Ada up in `client`; the link mailed to her, from the log. (Called by the tests
    themselves, not a fixture: the first test of a worker sets the database up with Alembic,
    whose logging set-up drops the log capture of the set-up phase.)"""
    assert client.post("/signup", data=SIGN_UP).status_code == 303
    return mailed_link(caplog, "/email/verify/")


# -- The mail, the banner, the link -------------------------------------------------------------


def test_sign_up_signs_in_at_once_and_mails_a_link_to_the_new_address(client, caplog):
    assert client.post("/signup", data=SIGN_UP).status_code == 303
    [(to, subject, body)] = mails(caplog)
    assert (to, subject) == ("ada@example.com", "Verify your xtablo email")
    assert body.startswith("Hello Ada,")
    assert "The link works for 48 hours." in body
    assert re.search(r"http://localhost/email/verify/[\w.-]+", body)
    page = client.get("/tablos").text
    assert page_title(page) == "My tablos"
    assert banner_of(page) == BANNER.format("ada@example.com")


def test_the_link_page_asks_and_only_its_button_verifies(client, db, caplog):
    link = sign_up(client, caplog)
    page = client.get(link)
    # A mail scanner that opens the link changes nothing.
    assert page.status_code == 200 and page_title(page.text) == "Verify your email"
    assert "Verify my email</button>" in page.text
    assert fresh_user(db, "ada@example.com").email_verified_at is None
    response = client.post(link)
    assert response.status_code == 303 and response.headers["Location"] == "/tablos"
    landing = client.get("/tablos").text
    assert "Your email ada@example.com is verified." in flashes(landing)
    assert banner_of(landing) is None
    assert fresh_user(db, "ada@example.com").email_verified


def test_the_link_in_another_browser_verifies_once_signed_in_there(client, app, db, caplog):
    """The link proves the mailbox, the session the account: a browser signed in to nothing is
    asked to sign in first (and comes back to the link), or, if the person never made the
    account, to take the address back with a new password."""
    link = sign_up(client, caplog)
    phone = app.test_client()
    page = phone.get(link)
    assert page.status_code == 200 and "Verify my email</button>" not in page.text
    assert f'href="/login?next={link}">Sign in to verify</a>' in page.text
    assert 'href="/password/forgot?email=ada@example.com">Choose a new password</a>' in page.text
    response = phone.post(link)  # a page left open while signed out: nothing changes
    assert response.status_code == 303 and response.headers["Location"] == f"/login?next={link}"
    assert "Sign in to verify ada@example.com: the link proves that the address is yours, signing in proves that the account is." in flashes(phone.get("/login").text)
    assert not fresh_user(db, "ada@example.com").email_verified
    signed_in = phone.post(response.headers["Location"], data={"email": "ada@example.com", "password": PASSWORD})
    assert signed_in.headers["Location"] == link
    assert "Verify my email</button>" in phone.get(link).text
    assert phone.post(link).status_code == 303
    assert fresh_user(db, "ada@example.com").email_verified


def test_the_link_changes_nothing_for_another_account(client, app, db, caplog, make_user):
    link = sign_up(client, caplog)
    make_user(name="Bea", email="bea@example.com")
    bea = app.test_client()
    assert bea.post("/login", data={"email": "bea@example.com", "password": PASSWORD}).status_code == 303
    page = bea.get(link).text
    assert "this browser is signed in to another account (bea@example.com)" in page and "Verify my email</button>" not in page
    response = bea.post(link)
    assert response.status_code == 403 and "This link is for the xtablo account of ada@example.com" in response.text
    assert not fresh_user(db, "ada@example.com").email_verified


def test_verifying_twice_is_harmless(client, db, caplog):
    link = sign_up(client, caplog)
    assert client.post(link).status_code == 303
    verified_at = fresh_user(db, "ada@example.com").email_verified_at
    again = client.get(link)
    assert again.status_code == 200 and "ada@example.com is already verified: there is nothing more to do." in again.text
    assert "Verify my email</button>" not in again.text
    response = client.post(link)
    assert response.status_code == 303
    assert "Your email ada@example.com was already verified." in flashes(client.get("/tablos").text)
    assert fresh_user(db, "ada@example.com").email_verified_at == verified_at


class LongAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 49 * 3600  # past EMAIL_VERIFICATION_HOURS (48)


@pytest.mark.parametrize("how", ["expired", "forged", "mistyped", "another app's", "for an email the account left"])
def test_dead_links_say_so_and_verify_nothing(app, client, db, make_user, how):
    user = make_user(email="ada@example.com", verified=False)
    with app.test_request_context():
        token = user.verification_token()
        if how == "expired":
            genuine = URLSafeTimedSerializer(app.secret_key, salt="xtablo-email-verification").loads(token)
            token = URLSafeTimedSerializer(app.secret_key, salt="xtablo-email-verification", signer=LongAgoSigner).dumps(genuine)
        elif how == "forged":
            token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        elif how == "mistyped":
            token = token[:10]
        elif how == "another app's":
            token = URLSafeTimedSerializer("another secret" * 3, salt="xtablo-email-verification").dumps({"user": user.id, "email": user.email})
    if how == "for an email the account left":
        user.email = "ada@elsewhere.example"
        db.session.commit()
    for method in ("GET", "POST"):
        response = client.open(f"/email/verify/{token}", method=method)
        assert response.status_code == 410
        assert page_title(response.text) == "This link does not work"
        assert "Sign in: while your email is not verified, every page offers to send a new link." in response.text
    db.session.rollback()
    assert db.session.get(User, user.id).email_verified_at is None


def test_a_dead_link_tells_a_signed_in_person_what_to_do(client, login_as, make_user):
    login_as(make_user(verified=False))
    response = client.get("/email/verify/not-a-token")
    assert response.status_code == 410
    assert "Use “Send the link again” above to get a new one." in html.unescape(response.text)
    assert banner_of(response.text) is not None


def test_the_banner_is_on_every_page_until_verified_and_never_on_error_pages(client, login_as, make_user, make_tablo):
    ada = login_as(make_user(email="ada@example.com", verified=False))
    tablo = make_tablo(owner=ada)
    for path in ("/tablos", f"/tablos/{tablo.id}", f"/tablos/{tablo.id}/members", "/account", "/account/sessions"):
        assert banner_of(client.get(path).text) == BANNER.format("ada@example.com"), path
    not_found = client.get("/tablos/999999")
    assert not_found.status_code == 404 and banner_of(not_found.text) is None


def test_no_banner_for_a_verified_email_nor_signed_out(client, login_as):
    assert banner_of(client.get("/login").text) is None
    login_as()
    assert banner_of(client.get("/tablos").text) is None


# -- Send the link again ----------------------------------------------------------------------


def test_send_the_link_again_mails_a_working_link_and_comes_back(client, db, caplog):
    link = sign_up(client, caplog)
    response = client.post("/account/email/verification", data={"next": "/account/sessions"})
    assert response.status_code == 303 and response.headers["Location"] == "/account/sessions"
    assert "We sent a new link to ada@example.com. It works for 48 hours." in flashes(client.get("/account/sessions").text)
    second = mailed_link(caplog, "/email/verify/")
    assert client.post(second).status_code == 303
    assert fresh_user(db, "ada@example.com").email_verified


def test_a_verified_email_is_mailed_nothing(client, caplog, login_as):
    login_as()
    response = client.post("/account/email/verification", data={"next": "/tablos"})
    assert response.status_code == 303
    assert "Your email is already verified." in flashes(client.get("/tablos").text)
    assert mails(caplog) == []


def test_sending_again_is_limited_per_account(app_env, db, caplog, make_user):
    strict = create_app(TestingConfig(app_env | {"EMAIL_LINK_LIMIT": "2 per hour"}))
    strict.test_client_class = Client
    try:
        ada = make_user(email="ada@example.com", verified=False)
        first, second = strict.test_client(), strict.test_client()
        for browser in (first, second):  # two browsers of one account share the count
            assert browser.post("/login", data={"email": ada.email, "password": PASSWORD}).status_code == 303
        first.post("/account/email/verification", data={"next": "/tablos"})
        second.post("/account/email/verification", data={"next": "/tablos"})
        refused = first.post("/account/email/verification", data={"next": "/tablos"})
        assert refused.status_code == 303
        assert "You asked for several links already. Wait an hour, then try again." in flashes(first.get("/tablos").text)
        assert len(mails(caplog)) == 2
        # Another account is not affected.
        bob = make_user(email="bob@example.com", verified=False)
        third = strict.test_client()
        third.post("/login", data={"email": bob.email, "password": PASSWORD})
        third.post("/account/email/verification", data={"next": "/tablos"})
        assert [to for to, _, _ in mails(caplog)] == ["ada@example.com", "ada@example.com", "bob@example.com"]
    finally:
        with strict.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()


# -- Invitations wait for the verification -----------------------------------------------------


@pytest.fixture
def invited(db, make_user, make_tablo):
    """Two tablos that invited ada@example.com before she had an account."""
    owner = make_user(name="Owner")
    tablos = [make_tablo(owner=owner, title=title) for title in ("Garden", "Kitchen")]
    for tablo, role in zip(tablos, (Role.EDITOR, Role.VIEWER)):
        TabloInvitation.invite(tablo, "ada@example.com", role, invited_by=owner)
    db.session.commit()
    return tablos


def test_invitations_wait_for_the_link_then_become_memberships(client, db, invited, caplog):
    link = sign_up(client, caplog)
    page = client.get("/tablos").text
    assert listed_tablos(page) == [] and WAITING in page
    client.post(link)
    page = client.get("/tablos").text
    assert "Your email ada@example.com is verified. You joined 2 tablos you were invited to." in flashes(page)
    assert sorted(listed_tablos(page)) == ["Garden", "Kitchen"] and WAITING not in page
    assert member_tablos(db, fresh_user(db, "ada@example.com")) == ["Garden", "Kitchen"]
    assert db.session.scalar(select(func.count()).select_from(TabloInvitation)) == 0


def test_my_tablos_says_so_whether_or_not_anyone_invited_the_email(client, login_as, make_user):
    # A count, or a sentence only when invitations wait, would tell someone who signed up with
    # another person's address that this person was invited somewhere.
    login_as(make_user(verified=False))
    assert WAITING in client.get("/tablos").text


def test_signing_in_again_does_not_claim_for_an_unverified_email(client, app, db, invited, caplog):
    link = sign_up(client, caplog)
    again = app.test_client()
    assert again.post("/login", data={"email": "ada@example.com", "password": PASSWORD}).status_code == 303
    assert member_tablos(db, fresh_user(db, "ada@example.com")) == []


def test_a_password_reset_verifies_the_email_and_claims(app, client, db, caplog, invited):
    link = sign_up(client, caplog)
    other = app.test_client()
    other.post("/password/forgot", data={"email": "ada@example.com"})
    link = mailed_link(caplog, "/password/reset/")
    assert other.post(link, data={"new_password": "a brand new secret", "confirm": "a brand new secret"}).status_code == 303
    ada = fresh_user(db, "ada@example.com")
    assert ada.email_verified
    assert member_tablos(db, ada) == ["Garden", "Kitchen"]
    assert banner_of(other.get("/tablos").text) is None


# -- The operator's command --------------------------------------------------------------------


def test_flask_users_verify_marks_the_email_and_claims(runner, db, invited, make_user):
    ada = make_user(email="ada@example.com", verified=False)
    result = runner.invoke(args=["users", "verify", "ADA@example.com"])
    assert result.exit_code == 0
    assert result.output == "<ada@example.com> is verified; 2 invitation(s) claimed.\n"
    assert fresh_user(db, "ada@example.com").email_verified
    assert member_tablos(db, ada) == ["Garden", "Kitchen"]
    again = runner.invoke(args=["users", "verify", "ada@example.com"])
    assert again.exit_code == 0 and again.output == "<ada@example.com> was already verified; 0 invitation(s) claimed.\n"


def test_flask_users_verify_refuses_an_unknown_email(runner, db):
    result = runner.invoke(args=["users", "verify", "nobody@example.com"])
    assert result.exit_code == 1
    assert "no account uses nobody@example.com" in result.output


def test_seed_demo_makes_a_verified_account(runner, db):
    runner.invoke(args=["seed-demo"])
    assert fresh_user(db, "demo@example.com").email_verified


def test_the_access_log_never_shows_a_mailed_link_token():
    path = Path(__file__).resolve().parent.parent / "xtablo" / "web" / "accesslog.py"
    spec = importlib.util.spec_from_file_location("accesslog", path)
    accesslog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accesslog)
    for line, logged in [
        ("POST /email/verify/eyJ1c2VyIjo1fQ.aB-c.dE_f HTTP/1.1", "POST /email/verify/[redacted] HTTP/1.1"),
        ("GET /account/email/confirm/eyJ1c2VyIjo1fQ.aB-c HTTP/1.1", "GET /account/email/confirm/[redacted] HTTP/1.1"),
        ("GET /email/veri%66y/eyJ1c2VyIjo1fQ.aB-c HTTP/1.1", "GET /email/verify/[redacted] HTTP/1.1"),
        ("POST /account/email/verification HTTP/1.1", "POST /account/email/verification HTTP/1.1"),
        ("POST /account/email HTTP/1.1", "POST /account/email HTTP/1.1"),
    ]:
        assert accesslog.redact(line) == logged
