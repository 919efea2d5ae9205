"""Attacks on issue 8's sign-in (review branch): each test states what a victim must be able to
rely on, and fails while the hole is open. Mallory is the attacker, Ann the victim."""

import html
import re

from sqlalchemy import func, select

from tests.conftest import PASSWORD, listed_tablos, mailed_link, signed_in_as
from tests.test_social_sign_in import HIDDEN, apple_sign_in, google_sign_in, link_from_account_page
from xtablo.extensions import db as _db
from xtablo.models import Role, TabloInvitation, User, UserIdentity


def count(db, model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def reset_password_as_the_mailbox_owner(client, caplog, email: str, password: str) -> None:
    """What the README and the confirmation page tell a victim of pre-registration to do."""
    caplog.clear()
    client.post("/password/forgot", data={"email": email})
    link = mailed_link(caplog, "/password/reset/")
    assert client.post(link, data={"new_password": password, "confirm": password}).status_code == 303


def signed_in_email(client) -> str | None:
    """The email of the account this browser is signed in to (the header's title), or None."""
    response = client.get("/tablos")
    if response.status_code == 302:
        return None
    return html.unescape(re.search(r'<a href="/account" title="([^"]*)">', response.text).group(1))


def link_apple_from_account_page(app, client, apple, password):
    response = client.post("/account/identities/apple/link", data={"password": password})
    _, url, fields = apple.consent(response.location)
    relay = app.test_client().post(url, data=fields)  # Apple's cross-site POST: no cookie
    relayed = {name: html.unescape(value) for name, value in HIDDEN.findall(relay.text)}
    return client.post(url, data=relayed)


# -- Pre-registration: the attacker's provider account outlives the owner's recovery -------------


def test_a_pre_registrants_linked_apple_account_dies_with_the_owners_reset(app, client, db, apple, make_tablo, make_user, caplog):
    """Mallory signs up with Ann's address, then links *her own* Apple account from the account
    page (nothing checks that its email is the account's). Ann, told to choose a new password
    through the mailed link, does so: Mallory's password and sessions die, but her Apple account
    still opens Ann's account, now verified and holding Ann's invitations."""
    tablo = make_tablo(owner=make_user(name="Owner"), title="Ann's salary review")
    TabloInvitation.invite(tablo, "ann@example.com", Role.EDITOR, invited_by=tablo.created_by)
    db.session.commit()
    make_user(name="Mallory", email="ann@example.com", password="mallory's password", verified=False)
    mallory = app.test_client()
    assert mallory.post("/login", data={"email": "ann@example.com", "password": "mallory's password"}).status_code == 303
    apple.sign_in_as(sub="000999.mallory", email="mallory@icloud.com", given_name="Mallory")
    assert link_apple_from_account_page(app, mallory, apple, "mallory's password").location == "/account"
    assert count(db, UserIdentity) == 1


    reset_password_as_the_mailbox_owner(client, caplog, "ann@example.com", "ann's own secret")
    assert signed_in_as(mallory) is None  # the reset ended Mallory's session, as promised

    # Mallory comes back through Apple.
    attacker = app.test_client()
    apple.sign_in_as(sub="000999.mallory", email="mallory@icloud.com", given_name="Mallory")
    apple_sign_in(app, attacker, apple)
    # Unlinked, Mallory's Apple account makes an account of its own (rule 2), never Ann's again.
    assert signed_in_email(attacker) != "ann@example.com", "Mallory's Apple account still opens Ann's account after Ann's reset"
    assert "Ann's salary review" not in listed_tablos(attacker.get("/tablos").text)


def test_an_account_a_provider_made_from_an_unverified_email_dies_with_the_owners_reset(app, client, db, google, make_tablo, make_user, caplog):
    """Rule 4 creates an account for an email the provider did *not* verify. Mallory's Google
    account claims ann@example.com without proof: xtablo makes the account (no password). Ann
    later takes the address back with a reset link: the account is now verified and claims
    Ann's invitations, and Mallory's Google account still signs in to it."""
    tablo = make_tablo(owner=make_user(name="Owner"), title="Ann's salary review")
    TabloInvitation.invite(tablo, "ann@example.com", Role.EDITOR, invited_by=tablo.created_by)
    db.session.commit()

    mallory = app.test_client()
    google.sign_in_as(sub="g-mallory", email="ann@example.com", email_verified=False, name="Mallory")
    assert google_sign_in(mallory, google).location == "/tablos"
    mallory.post("/logout")

    reset_password_as_the_mailbox_owner(client, caplog, "ann@example.com", "ann's own secret")
    assert listed_tablos(client.get("/tablos").text) == ["Ann's salary review"]

    google.sign_in_as(sub="g-mallory", email="ann@example.com", email_verified=False, name="Mallory")
    google_sign_in(mallory, google)
    assert signed_in_as(mallory) is None, "Mallory's unverified Google account still opens Ann's account after Ann's reset"


def test_a_verification_link_opened_by_the_mailbox_owner_does_not_hand_her_tablos_to_a_pre_registrant(app, client, db, google, make_tablo, make_user, caplog):
    """Mallory signs up with Ann's address and presses "Send the link again". Ann, who was told a
    tablo was shared with her, opens the mail and presses "Verify my email" (the page says the
    shared tablos "will then appear in your account"). The account verified is Mallory's: her
    password now opens Ann's invitations, and Ann's later Google sign-in is joined to that
    account silently (rule 3: verified), the very hand-over the issue forbids."""
    tablo = make_tablo(owner=make_user(name="Owner"), title="Ann's salary review")
    TabloInvitation.invite(tablo, "ann@example.com", Role.EDITOR, invited_by=tablo.created_by)
    db.session.commit()
    mallory = app.test_client()
    caplog.clear()
    assert mallory.post("/signup", data={"name": "Mallory", "email": "ann@example.com", "password": "mallory's password",
                                         "confirm": "mallory's password"}).status_code == 303
    link = mailed_link(caplog, "/email/verify/")

    # Ann, in her own browser, signed in to nothing.
    assert client.post(link).status_code == 303
    google.sign_in_as(sub="g-ann", email="ann@example.com", name="Ann")
    google_sign_in(client, google)

    assert "Ann's salary review" not in listed_tablos(mallory.get("/tablos").text), "Ann's invitation went to Mallory's account"
    assert signed_in_as(client) != "Mallory", "Ann's Google sign-in was joined to Mallory's account without proof"


def test_an_email_change_link_opened_by_the_mailbox_owner_does_not_hand_her_tablos_to_another_account(app, client, db, make_tablo, make_user, caplog):
    """The same with an email change: Mallory asks to move her own account to Ann's address; Ann
    opens the link, not signed in to anything, and presses "Use ann@example.com". Mallory's
    account now has Ann's address, verified, and Ann's invitations."""
    tablo = make_tablo(owner=make_user(name="Owner"), title="Ann's salary review")
    TabloInvitation.invite(tablo, "ann@example.com", Role.EDITOR, invited_by=tablo.created_by)
    db.session.commit()
    make_user(name="Mallory", email="mallory@example.com")
    mallory = app.test_client()
    assert mallory.post("/login", data={"email": "mallory@example.com", "password": PASSWORD}).status_code == 303
    caplog.clear()
    assert mallory.post("/account/email", data={"email-new_email": "ann@example.com", "email-current_password": PASSWORD}).status_code == 303
    link = mailed_link(caplog, "/account/email/confirm/")

    client.post(link)  # Ann, in her own browser
    assert "Ann's salary review" not in listed_tablos(mallory.get("/tablos").text), "Ann's invitation went to Mallory's account"


# -- A stolen session turns into a lasting way in ------------------------------------------------


def copy_session(app, client):
    thief = app.test_client()
    thief.set_cookie("xtablo_session", client.get_cookie("xtablo_session").value)
    return thief


def test_a_stolen_session_cannot_link_the_thiefs_google_account_past_a_password_change(app, client, db, google, login_as):
    """README (Sessions): "a stolen copy of its cookie dies with the old password". A thief with
    a copy of Ann's cookie links their own Google account from the account page (no password
    asked, unlike the email change); Ann changes her password; the thief's Google still opens
    Ann's account."""
    ann = login_as()
    thief = copy_session(app, client)
    google.sign_in_as(sub="g-thief", email="thief@gmail.com", name="Thief")
    link_from_account_page(thief, google, "google")  # the thief does not know Ann's password

    assert client.post("/account/password", data={"current_password": PASSWORD, "new_password": "a brand new secret",
                                                  "confirm": "a brand new secret"}).status_code == 303
    assert signed_in_as(thief) is None  # the copied cookie died, as promised

    later = app.test_client()
    google_sign_in(later, google)
    assert signed_in_as(later) != ann.name, "the thief's Google account outlived Ann's password change"


def test_a_stolen_session_cannot_set_a_password_that_outlives_the_session(app, client, db, google):
    """An account that signs in with Google only: "Set a password" asks for nothing but the
    session (while the email change asks for a password precisely so that a stolen session
    cannot become a lasting way in). A thief with a copy of the cookie sets one; Ann signs out,
    which ends the copied session too; the thief signs in with Ann's email and the thief's
    password. (Ann is not told: no mail, and nothing else is signed out.)"""
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    thief = copy_session(app, client)
    assert thief.post("/account/password", data={"new_password": "thief's password", "confirm": "thief's password"}).status_code == 303
    client.post("/logout")
    assert signed_in_as(thief) is None

    later = app.test_client()
    later.post("/login", data={"email": "ann@gmail.com", "password": "thief's password"})
    assert signed_in_as(later) is None, "the thief's password outlived the stolen session"


# -- Hostile input ------------------------------------------------------------------------------


def test_a_deeply_nested_apple_user_field_is_not_a_server_error(app, client, db, apple):
    """Apple's `user` field is JSON from the browser's form: nesting deep enough makes json.loads
    raise RecursionError, which nothing catches (the relay's 4096-character cap lets 2,000
    brackets through)."""
    apple.sign_in_as(sub="001234.apple", email="zoe@icloud.com", given_name="Zoé")
    _, url, fields = apple.consent(client.get("/auth/apple/login").location)
    nested = "[" * 2000
    relay = app.test_client().post(url, data=fields | {"user": nested})
    assert relay.status_code == 200  # under the relay's cap
    relayed = {name: html.unescape(value) for name, value in HIDDEN.findall(relay.text)}
    response = client.post(url, data=relayed)
    assert response.status_code == 303, response.status_code


def test_a_nul_in_apples_name_is_not_a_server_error(app, client, db, apple):
    """The relay refuses a raw NUL, but the `user` field is JSON: "\\u0000" passes the relay and
    decodes to a NUL in the new account's name. PostgreSQL refuses it (500); SQLite stores it,
    where every form of the app calls a NUL an error."""
    apple.sign_in_as(sub="001234.nul", email="nul@icloud.com", given_name="Zoé")
    _, url, fields = apple.consent(client.get("/auth/apple/login").location)
    relay = app.test_client().post(url, data=fields | {"user": '{"name": {"firstName": "Zo\\u0000é"}}'})
    assert relay.status_code == 200
    relayed = {name: html.unescape(value) for name, value in HIDDEN.findall(relay.text)}
    response = client.post(url, data=relayed)
    assert response.status_code == 303, response.status_code
    assert "\x00" not in db.session.scalar(select(User.name))


def test_a_very_long_subject_is_not_a_server_error(client, db, google):
    """A provider's `sub` is stored in a String(255): PostgreSQL refuses a longer one with a
    DataError that nothing catches (SQLite stores it)."""
    google.sign_in_as(sub="g" * 300, email="long@gmail.com", name="Long")
    response = google_sign_in(client, google)
    assert response.status_code == 303, response.status_code


# -- Enumeration ----------------------------------------------------------------------------------


def test_forgot_password_takes_as_long_whether_or_not_an_account_uses_the_email(app_env, db, make_user):
    """README: "The answer is the same whether or not an account uses the email." The words are,
    the time is not: the mail goes out over SMTP inside the request, only for a known email. A
    slow or far mail server (here one that never answers, MAIL_TIMEOUT 1 s) makes the
    difference a clock can read."""
    import time

    from tests.conftest import Client, FrozenServer, TestingConfig
    from xtablo import create_app

    make_user(email="ann@example.com")
    smtp = FrozenServer()
    slow = create_app(TestingConfig(app_env | {"SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "MAIL_TIMEOUT": "1"}))
    try:
        slow.test_client_class = Client
        client = slow.test_client()

        def seconds(email):
            start = time.monotonic()
            assert client.post("/password/forgot", data={"email": email}).status_code == 303
            return time.monotonic() - start

        unknown, known = seconds("nobody@example.com"), seconds("ann@example.com")
        assert abs(known - unknown) < 0.5, f"known email: {known:.2f} s, unknown: {unknown:.2f} s"
    finally:
        smtp.close()
        with slow.app_context():  # its pooled connections closed now, not by the collector later
            _db.engine.dispose()
