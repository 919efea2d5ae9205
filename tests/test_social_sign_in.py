"""Continue with Google / Apple, against real OpenID Connect providers on loopback
(tests/oidc_provider.py): every rule of a callback (xtablo/identity/rules.py), the refusals,
linking and unlinking from the account page. Apple's cross-site leg is checked for real in
tests/browser/test_social_sign_in.py; here its first POST comes from a client with no cookies."""

import html
import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session as OrmSession

from tests.conftest import PASSWORD, listed_tablos, page_title, signed_in_as
from xtablo.extensions import db as _db
from xtablo.models import Role, TabloInvitation, User, UserIdentity
from xtablo.models import Session
from xtablo.models._types import utcnow

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def go_to_provider(client, provider_name: str, query: str = "") -> str:
    response = client.get(f"/auth/{provider_name}/login{query}")
    assert response.status_code == 302, response.text
    return response.location


def google_sign_in(client, google, *, query: str = "", allow: bool = True):
    """Click "Continue with Google", answer the provider's consent page, come back."""
    method, url, fields = google.consent(go_to_provider(client, "google", query), allow=allow)
    assert method == "GET" and fields is None
    return client.get(url)


def apple_sign_in(app, client, apple, *, allow: bool = True):
    """Apple posts its answer cross-site: that POST carries none of this site's cookies (a
    client of its own here), and its page posts the same fields again from the site."""
    method, url, fields = apple.consent(go_to_provider(client, "apple"), allow=allow)
    assert method == "POST"
    relay = app.test_client().post(url, data=fields)
    assert relay.status_code == 200 and page_title(relay.text) == "Signing in with Apple"
    assert "Set-Cookie" not in relay.headers
    relayed = {name: html.unescape(value) for name, value in HIDDEN.findall(relay.text)}
    assert relayed.pop("relayed") == "1"
    return client.post(url, data={**relayed, "relayed": "1"})


def flashed(client) -> str:
    """The sign-in page a refused callback leads to, as the person reads it."""
    page = client.get("/login").text
    return html.unescape(" ".join(re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)))


def count(db, model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def user_by_email(db, email) -> User | None:
    db.session.rollback()
    return db.session.scalar(select(User).where(User.email == email))


# -- The buttons -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/signup"])
def test_both_pages_offer_google_and_apple(client, path):
    page = client.get(f"{path}?next=/tablos/new").text
    assert '<a class="button social" href="/auth/google/login?next=/tablos/new">Continue with Google</a>' in page
    assert '<a class="button social" href="/auth/apple/login?next=/tablos/new">Continue with Apple</a>' in page


def test_a_provider_without_its_settings_shows_no_button_and_has_no_routes(app_env):
    from tests.conftest import Client, TestingConfig
    from xtablo import create_app

    bare = create_app(TestingConfig({k: v for k, v in app_env.items() if not k.startswith("APPLE_")}))
    bare.test_client_class = Client
    client = bare.test_client()
    try:
        page = client.get("/login").text
        assert "Continue with Google" in page and "Continue with Apple" not in page
        assert client.get("/auth/apple/login").status_code == 404
        assert client.post("/auth/apple/callback", data={"code": "x", "state": "y"}).status_code == 404
    finally:
        with bare.app_context():  # its pooled connections closed now, not by the collector later
            _db.engine.dispose()


def test_the_flow_uses_state_nonce_and_pkce(client, google):
    url = go_to_provider(client, "google")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(google.issuer)
    assert query["response_type"] == ["code"] and "openid" in query["scope"][0].split()
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == ["http://localhost/auth/google/callback"]


# -- What a callback does ----------------------------------------------------------------------


def test_a_new_google_account_makes_a_verified_account_and_signs_in(client, db, google):
    google.sign_in_as(sub="g-ann", email="Ann@Gmail.com", email_verified=True, name="Ann Lee")
    response = google_sign_in(client, google)
    assert response.status_code == 303 and response.location == "/tablos"
    assert signed_in_as(client) == "Ann Lee"
    user = user_by_email(db, "ann@gmail.com")
    assert user.email_verified and not user.has_password
    [identity] = user.identities
    assert (identity.provider, identity.provider_subject, identity.email, identity.email_verified) == ("google", "g-ann", "ann@gmail.com", True)


def test_a_callback_that_sees_the_other_callbacks_account_between_two_reads_signs_in_there(app, client, db, google):
    """Two callbacks for one new Google account at once (two tabs). The other one commits the
    account and its identity just after this one looked for the identity, and before this one
    looks for the email: this one finds the account by its email, linked to this very Google
    account, and signs in there. (It refused, "already linked to another Google account": seen
    once in the live race test, tests/browser/test_parallel_social_sign_in.py.) PostgreSQL only:
    on SQLite a callback holds the write lock from its first query, so nothing commits between."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serializes writers: no commit can land between the callback's reads")
    google.sign_in_as(sub="g-race", email="race@gmail.com", name="Race")
    method, url, _ = google.consent(go_to_provider(client, "google"))
    with app.app_context():
        engine = db.engine  # the server's (the test itself runs in another app's context)
    committed = []

    def the_other_callback_commits(connection, cursor, statement, parameters, context, executemany):
        if committed or "FROM user_identities" not in statement:
            return
        committed.append(statement)
        with OrmSession(engine) as other:
            user = User(name="Race", email="race@gmail.com", email_verified_at=utcnow())
            other.add_all([user, UserIdentity(user=user, provider="google", provider_subject="g-race",
                                              email="race@gmail.com", email_verified=True)])
            other.commit()

    event.listen(engine, "after_cursor_execute", the_other_callback_commits)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "after_cursor_execute", the_other_callback_commits)
    assert committed
    assert (response.status_code, response.location) == (303, "/tablos"), flashed(client)
    assert signed_in_as(client) == "Race"
    assert count(db, User) == 1 and count(db, UserIdentity) == 1


def test_next_survives_the_round_trip(client, google):
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    response = google_sign_in(client, google, query="?next=" + quote("/tablos/new"))
    assert response.location == "/tablos/new"


def test_a_known_subject_signs_in_its_account_even_after_an_email_change_at_the_provider(client, db, google):
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    client.post("/logout")
    google.sign_in_as(sub="g-ann", email="ann.lee@gmail.com", name="Ann")
    assert google_sign_in(client, google).status_code == 303
    assert signed_in_as(client) == "Ann"
    assert count(db, User) == 1
    identity = db.session.scalar(select(UserIdentity))
    assert identity.email == "ann.lee@gmail.com" and identity.user.email == "ann@gmail.com"


def test_a_verified_account_with_the_same_email_is_linked_at_once(client, db, google, make_user):
    ann = make_user(name="Ann", email="ann@gmail.com")  # verified
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Somebody Else")
    assert google_sign_in(client, google).location == "/tablos"
    assert signed_in_as(client) == "Ann"  # the account's own name stays
    assert count(db, User) == 1 and count(db, UserIdentity, UserIdentity.user_id == ann.id) == 1


def test_an_unverified_account_with_the_same_email_asks_for_its_password_first(client, db, google, make_user):
    ann = make_user(name="Ann", email="ann@gmail.com", verified=False)
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    response = google_sign_in(client, google)
    assert response.status_code == 303 and response.location == "/auth/link/confirm"
    page = client.get("/auth/link/confirm").text
    assert page_title(page) == "Link Google to your account"
    assert "An xtablo account already uses ann@gmail.com, but its email address was never verified." in html.unescape(page)
    assert signed_in_as(client) is None and count(db, UserIdentity) == 0

    wrong = client.post("/auth/link/confirm", data={"password": "not it at all"})
    assert wrong.status_code == 422
    assert '<p class="error" id="password-error">This is not the password of that account.</p>' in wrong.text
    assert signed_in_as(client) is None and count(db, UserIdentity) == 0

    right = client.post("/auth/link/confirm", data={"password": PASSWORD})
    assert right.status_code == 303 and right.location == "/tablos"
    assert signed_in_as(client) == "Ann"
    assert count(db, UserIdentity, UserIdentity.user_id == ann.id) == 1
    assert user_by_email(db, "ann@gmail.com").email_verified  # Google vouched for it, the password for the account


def test_a_pre_registered_account_never_reaches_the_victim_nor_keeps_its_password(app, client, db, google, make_user, caplog):
    """Mallory signs up with Ann's address before Ann ever comes. Ann's Google sign-in must not
    open Mallory's account to her without proof, and once Ann proves the mailbox (a reset link),
    Mallory's password and sessions are gone and Ann's Google account joins the account."""
    make_user(name="Mallory", email="ann@gmail.com", password="mallory's password", verified=False)
    mallory = app.test_client()
    assert mallory.post("/login", data={"email": "ann@gmail.com", "password": "mallory's password"}).status_code == 303

    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    assert google_sign_in(client, google).location == "/auth/link/confirm"
    assert signed_in_as(client) is None and count(db, UserIdentity) == 0

    client.post("/password/forgot", data={"email": "ann@gmail.com"})
    [link] = re.findall(r"http://localhost(/password/reset/[\w.-]+)", caplog.text)
    assert client.post(link, data={"new_password": "ann's own secret", "confirm": "ann's own secret"}).status_code == 303
    assert signed_in_as(mallory) is None
    assert app.test_client().post("/login", data={"email": "ann@gmail.com", "password": "mallory's password"}).status_code == 422

    client.post("/logout")
    assert google_sign_in(client, google).location == "/tablos"  # the reset verified the address
    assert count(db, UserIdentity) == 1


def test_an_unverified_email_from_the_provider_never_links_by_email(client, db, google, make_user):
    ann = make_user(name="Ann", email="ann@gmail.com")  # verified
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", email_verified=False, name="Ann")
    response = google_sign_in(client, google)
    assert response.status_code == 303 and response.location.startswith("/login")
    assert "Google has not confirmed that this address is yours, so the two cannot be joined." in flashed(client)
    assert signed_in_as(client) is None and count(db, UserIdentity) == 0 and count(db, User) == 1


def test_an_unverified_email_makes_a_separate_unverified_account_when_it_is_free(client, db, google, make_tablo, make_user, caplog):
    tablo = make_tablo(owner=make_user(name="Owner"), title="Plans")
    TabloInvitation.invite(tablo, "bob@example.com", Role.EDITOR, invited_by=tablo.created_by)
    db.session.commit()
    google.sign_in_as(sub="g-bob", email="bob@example.com", email_verified=False, name="Bob")
    assert google_sign_in(client, google).location == "/tablos"
    assert signed_in_as(client) == "Bob"
    bob = user_by_email(db, "bob@example.com")
    assert not bob.email_verified and not bob.identities[0].email_verified
    assert listed_tablos(client.get("/tablos").text) == []  # the invitation waits for a verified email
    [link] = re.findall(r"http://localhost(/email/verify/[\w.-]+)", caplog.text)  # the banner's link was mailed
    client.post(link)
    assert listed_tablos(client.get("/tablos").text) == ["Plans"]


def test_a_verified_email_claims_the_invitations_waiting_for_it(client, db, google, make_tablo, make_user):
    tablo = make_tablo(owner=make_user(name="Owner"), title="Plans")
    TabloInvitation.invite(tablo, "bob@example.com", Role.EDITOR, invited_by=tablo.created_by)
    db.session.commit()
    google.sign_in_as(sub="g-bob", email="bob@example.com", name="Bob")
    google_sign_in(client, google)
    assert listed_tablos(client.get("/tablos").text) == ["Plans"]


def test_no_email_shared_is_explained(client, db, google):
    google.sign_in_as(sub="g-anon", email=None, name="Anon")
    google_sign_in(client, google)
    assert "Google did not share an email address, and xtablo needs one." in flashed(client)
    assert count(db, User) == 0


# -- Refusals: a sentence on the sign-in page, no session, nothing written -----------------------


def nothing_written(db) -> bool:
    return count(db, User) == 0 and count(db, UserIdentity) == 0 and count(db, Session) == 0


def test_denied_consent(client, db, google):
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    response = google_sign_in(client, google, query="?next=/tablos/new", allow=False)
    assert response.status_code == 303 and response.location == "/login?next=/tablos/new"
    assert "You cancelled signing in with Google." in flashed(client)
    assert nothing_written(db) and signed_in_as(client) is None


@pytest.mark.parametrize("knobs", [
    {"nonce": "not-the-one-sent"},
    {"aud": "somebody-else"},
    {"aud": "somebody-else", "azp": "xtablo-google"},  # names us as its party, yet not its audience
    {"iss": "http://127.0.0.1:9/evil"},
    {"exp_offset": -3600},
    {"sign_with_unknown_key": True},
    {"drop_nonce": True},
    {"token_error": "invalid_grant"},
], ids=lambda knobs: "+".join(knobs))
def test_a_bad_id_token_or_code_is_refused(client, db, google, knobs):
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google.tamper(**knobs)
    response = google_sign_in(client, google)
    assert response.status_code == 303 and response.location == "/login"
    assert "Google could not sign you in. Try again." in flashed(client)
    assert nothing_written(db) and signed_in_as(client) is None


def test_a_replayed_callback_is_refused(client, db, google):
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    method, url, _ = google.consent(go_to_provider(client, "google"))
    assert client.get(url).status_code == 303
    client.post("/logout")
    assert client.get(url).location == "/login"
    assert "That sign-in with Google expired or was already used. Try again." in flashed(client)
    assert signed_in_as(client) is None and count(db, Session) == 0


def test_a_forged_state_is_refused(app, client, db, google):
    """Login CSRF: an attacker's own callback URL (their code, their state) opened in the
    victim's browser must not sign the victim in as the attacker."""
    google.sign_in_as(sub="g-mallory", email="mallory@gmail.com", name="Mallory")
    attacker = app.test_client()
    _, url, _ = google.consent(go_to_provider(attacker, "google"))
    go_to_provider(client, "google")  # the victim's own flow, with another state
    assert client.get(url).location == "/login"
    assert "expired or was already used" in flashed(client)
    assert nothing_written(db)


def test_a_callback_without_any_flow_is_refused(client, db):
    response = client.get("/auth/google/callback?code=abc&state=def")
    assert response.status_code == 303 and response.location == "/login"
    assert "That sign-in with Google expired or was already used. Try again." in flashed(client)


# -- Apple -------------------------------------------------------------------------------------


def test_apple_signs_in_with_the_name_it_sends_once(app, client, db, apple):
    apple.sign_in_as(sub="001234.apple", email="x7k2@privaterelay.appleid.com", given_name="Zoé", family_name="Martin")
    response = apple_sign_in(app, client, apple)
    assert response.status_code == 303 and response.location == "/tablos"
    assert signed_in_as(client) == "Zoé Martin"
    user = user_by_email(db, "x7k2@privaterelay.appleid.com")
    assert user.email_verified  # Apple's "true", a string
    client.post("/logout")
    assert apple_sign_in(app, client, apple).location == "/tablos"  # no name this time: still Zoé
    assert signed_in_as(client) == "Zoé Martin" and count(db, User) == 1


def test_apple_refusals_are_explained(app, client, db, apple):
    apple.sign_in_as(sub="001234.apple", email="zoe@icloud.com", given_name="Zoé")
    apple_sign_in(app, client, apple, allow=False)
    assert "You cancelled signing in with Apple." in flashed(client)
    apple.tamper(nonce="replayed")
    apple_sign_in(app, client, apple)
    assert "Apple could not sign you in. Try again." in flashed(client)
    assert nothing_written(db)


def test_the_relay_page_carries_only_the_answers_fields(app):
    page = app.test_client().post("/auth/apple/callback", data={"code": "c", "state": "s", "evil": "x", "user": '{"a":1}'})
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    assert fields == {"code": "c", "state": "s", "user": '{"a":1}', "relayed": "1"}


# -- The account page: link, unlink ------------------------------------------------------------


def link_from_account_page(client, provider, name, password=None):
    """"Link Google" on the account page, its password (when given) on the page it leads to,
    the provider's consent, and back. Without the password it stops at the refusal."""
    page = client.get("/account").text
    assert f'href="/account/identities/{name}/link"' in page
    response = client.post(f"/account/identities/{name}/link", data={"password": password} if password else {})
    if response.status_code != 303 or not response.location.startswith(provider.issuer):
        return response
    method, url, fields = provider.consent(response.location)
    return client.get(url)


def test_link_google_from_the_account_page_and_sign_in_with_it(app, client, db, google, login_as):
    ann = login_as()
    google.sign_in_as(sub="g-ann", email="ann.other@gmail.com", name="Ann")
    response = link_from_account_page(client, google, "google", PASSWORD)
    assert response.location == "/account"
    page = client.get("/account").text
    assert "Your Google account is linked: you can sign in with it." in html.unescape(page)
    assert "<strong>Google</strong> · ann.other@gmail.com" in page
    assert count(db, UserIdentity, UserIdentity.user_id == ann.id) == 1
    client.post("/logout")
    google_sign_in(client, google)
    assert signed_in_as(client) == ann.name


def test_a_google_account_linked_to_someone_else_is_refused(app, client, db, google, login_as, make_user):
    google.sign_in_as(sub="g-shared", email="shared@gmail.com", name="Other")
    google_sign_in(app.test_client(), google)  # another person's account now
    login_as()
    link_from_account_page(client, google, "google", PASSWORD)
    assert "This Google account is linked to another xtablo account." in html.unescape(client.get("/account").text)
    assert count(db, UserIdentity) == 1


def test_a_link_cannot_be_started_from_another_site(client, db, google, login_as):
    login_as()
    response = client.get("/auth/google/login?link=forged")
    assert response.status_code == 302 and response.location == "/tablos"
    assert count(db, UserIdentity) == 0


def test_unlink_keeps_at_least_one_way_to_sign_in(client, db, google):
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    identity = db.session.scalar(select(UserIdentity))
    response = client.post(f"/account/identities/{identity.id}/unlink")
    assert response.location == "/account"
    page = html.unescape(client.get("/account").text)
    assert "Google is your only way to sign in: set a password or link another provider before unlinking it." in page
    assert "Unlink Google" not in page  # nor offered: the card says why beside it
    assert count(db, UserIdentity) == 1


def test_unlink_with_a_password(client, db, google, login_as):
    ann = login_as()
    google.sign_in_as(sub="g-ann", email="x@gmail.com", name="Ann")
    link_from_account_page(client, google, "google", PASSWORD)
    identity = db.session.scalar(select(UserIdentity))
    assert client.post(f"/account/identities/{identity.id}/unlink").location == "/account"
    assert "Google is unlinked from your account." in client.get("/account").text
    assert count(db, UserIdentity, UserIdentity.user_id == ann.id) == 0


def test_unlink_someone_elses_identity_is_not_found(app, client, db, google, login_as):
    google.sign_in_as(sub="g-other", email="other@gmail.com", name="Other")
    google_sign_in(app.test_client(), google)
    identity = db.session.scalar(select(UserIdentity))
    login_as()
    assert client.post(f"/account/identities/{identity.id}/unlink").status_code == 404
    assert count(db, UserIdentity) == 1


@pytest.mark.parametrize("field, value", [("code", "a\x00b"), ("state", "s" * 5000), ("user", "{}" * 3000)])
def test_a_malformed_apple_answer_is_refused_at_once_without_a_cookie(app, field, value):
    response = app.test_client().post("/auth/apple/callback", data={"code": "c", "state": "s"} | {field: value})
    assert response.status_code == 400 and page_title(response.text) == "Bad request"
    assert "Set-Cookie" not in response.headers


def test_the_confirmation_page_is_labelled(client, google, make_user):
    from tests.test_pages import problems

    make_user(name="Ann", email="ann@gmail.com", verified=False)
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    page = client.get("/auth/link/confirm").text
    assert problems(page) == []
    assert '<input type="email" id="account-email" value="ann@gmail.com" autocomplete="username" readonly>' in page


def test_the_confirmation_is_limited_like_a_sign_in(client, db, google, make_user):
    make_user(name="Ann", email="ann@gmail.com", verified=False)
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    statuses = [client.post("/auth/link/confirm", data={"password": f"guess {n}"}).status_code for n in range(6)]
    assert statuses == [422] * 5 + [429]
    response = client.post("/auth/link/confirm", data={"password": PASSWORD})
    assert response.status_code == 429 and "Too many wrong passwords. Wait 15 minutes, then try again." in response.text
    assert count(db, UserIdentity) == 0


@pytest.mark.parametrize("value", ["before\x00after", "x" * 10_240, None], ids=["NUL", "10 kB", "file"])
def test_hostile_passwords_on_the_confirmation_stay_under_the_field(client, db, google, make_user, value):
    import io

    make_user(name="Ann", email="ann@gmail.com", verified=False)
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    if value is None:
        response = client.post("/auth/link/confirm", data={"password": (io.BytesIO(b"%PDF"), "a.pdf")}, content_type="multipart/form-data")
    else:
        response = client.post("/auth/link/confirm", data={"password": value})
    assert response.status_code == 422 and 'id="password-error"' in response.text
    assert count(db, UserIdentity) == 0 and signed_in_as(client) is None


def test_an_attackers_apple_answer_posted_into_a_victims_browser_is_refused(app, client, db, apple):
    """The callback takes no CSRF token (Apple posts it cross-site): a page that posts the
    attacker's own answer into the victim's browser must not sign the victim in as the attacker."""
    apple.sign_in_as(sub="000999.mallory", email="mallory@icloud.com", given_name="Mallory")
    attacker = app.test_client()
    _, url, fields = apple.consent(go_to_provider(attacker, "apple"))
    go_to_provider(client, "apple")  # the victim started a sign-in of their own
    response = client.post(url, data=fields | {"relayed": "1"})
    assert response.status_code == 303 and response.location == "/login"
    assert "That sign-in with Apple expired or was already used. Try again." in flashed(client)
    assert nothing_written(db) and signed_in_as(client) is None


@pytest.mark.parametrize("where", ["closed port", "frozen"])
def test_a_provider_that_does_not_answer_is_explained(app_env, db, where):
    """Google unreachable or frozen: the button leads back to the sign-in page with a sentence,
    within OAUTH_TIMEOUT, and nothing is written."""
    import socket

    from tests.conftest import Client, FrozenServer, TestingConfig
    from xtablo import create_app

    frozen = FrozenServer()
    try:
        if where == "closed port":
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        else:
            port = frozen.port
        config = TestingConfig(app_env | {"GOOGLE_DISCOVERY_URL": f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                                          "OAUTH_TIMEOUT": "0.5"})
        unreachable = create_app(config)
        unreachable.test_client_class = Client
        client = unreachable.test_client()
        response = client.get("/auth/google/login?next=/tablos/new")
        assert response.status_code == 303 and response.location == "/login?next=/tablos/new"
        assert "Google cannot be reached just now. Try again in a moment." in flashed(client)
        assert nothing_written(db)
        with unreachable.app_context():
            _db.engine.dispose()
    finally:
        frozen.close()


@pytest.mark.parametrize("claims, expected", [
    ({"sub": "1", "email": "A@X.io ", "email_verified": "true", "name": "Ann"}, ("a@x.io", True, "Ann")),
    ({"sub": "1", "email": "a@x.io", "email_verified": "True"}, ("a@x.io", False, None)),  # only Apple's exact "true"
    ({"sub": "1", "email": "a@x.io", "email_verified": 1}, ("a@x.io", False, None)),
    ({"sub": "1", "email": "x" * 250 + "@x.io", "email_verified": True}, (None, True, None)),
    ({"sub": "1", "email": 42, "given_name": "Zoé", "family_name": ["not", "text"]}, (None, False, "Zoé")),
])
def test_what_a_provider_says_is_read_strictly(claims, expected):
    from xtablo.identity.providers import PROVIDERS

    profile = PROVIDERS["google"].profile(claims, {})
    assert (profile.email, profile.email_verified, profile.name) == expected


def test_a_subject_too_long_to_keep_is_refused(client, db, google):
    google.sign_in_as(sub="s" * 300, email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    assert "Google could not sign you in. Try again." in flashed(client)
    assert nothing_written(db)


def test_two_sign_ins_started_in_two_tabs_can_each_finish(client, db, google):
    """A stale or forged answer must not void the live one; once signed in, the sign-in starts
    afresh (a new session), and an older tab's answer is refused without signing anyone out."""
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    _, first, _ = google.consent(go_to_provider(client, "google"))
    _, second, _ = google.consent(go_to_provider(client, "google"))
    forged = first.replace("state=", "state=x")
    assert client.get(forged).location == "/login"  # a wrong state takes nothing away
    assert client.get(second).location == "/tablos"
    assert client.get(second).location == "/login"  # once
    assert client.get(first).location == "/login"
    assert signed_in_as(client) == "Ann"
    assert count(db, User) == 1


def test_cancelling_a_link_says_so(client, google, login_as):
    login_as()
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    response = client.post("/account/identities/google/link", data={"password": PASSWORD})
    _, url, _ = google.consent(response.location, allow=False)
    assert client.get(url).location == "/account"
    assert '<p class="flash flash-info">You cancelled linking Google.</p>' in client.get("/account").text


def test_the_confirmation_leads_to_a_prefilled_reset_and_says_what_follows(client, google, make_user):
    make_user(name="Ann", email="ann@gmail.com", verified=False)
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    page = html.unescape(client.get("/auth/link/confirm").text)
    assert "Then continue with Google again." in page
    href = re.search(r'<a href="(/password/forgot\?email=[^"]+)">Choose a new password</a>', page).group(1)
    assert 'value="ann@gmail.com"' in client.get(href).text


def test_mailed_link_pages_and_mails_speak_the_language_the_person_chose(client, db, login_as, caplog):
    """Chosen on the account page, the language holds on every page a mailed link opens (signed
    in), and in the mails the account receives, whatever the browser says."""
    user = login_as()
    client.post("/account", data={"language": "fr", "name": user.name})
    client.delete_cookie("xtablo_lang")
    client.post("/account/email", data={"email-new_email": "ann.new@example.com", "email-current_password": PASSWORD})
    link = re.findall(r"http://localhost(/account/email/confirm/[\w.-]+)", caplog.text)[-1]
    assert 'lang="fr"' in client.get(link, headers={"Accept-Language": "en"}).text
    assert "Confirmez votre nouvelle adresse" in caplog.text or "Confirmer" in caplog.text


def test_linking_asks_for_the_password_first(client, db, google, login_as):
    """A stolen session must not add a lasting way in: the account's password comes first."""
    login_as()
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    page = client.get("/account/identities/google/link")
    assert page_title(page.text) == "Link Google"
    assert "form-action 'self' " + google.issuer in page.headers["Content-Security-Policy"]
    wrong = client.post("/account/identities/google/link", data={"password": "not it"})
    assert wrong.status_code == 422
    assert '<p class="error" id="password-error">This is not your current password.</p>' in wrong.text
    right = client.post("/account/identities/google/link", data={"password": PASSWORD})
    assert right.status_code == 303 and right.location.startswith(google.issuer + "/authorize?")
    assert count(db, UserIdentity) == 0  # nothing until the provider answers


def test_an_account_without_a_password_links_with_a_button(client, db, google, apple):
    google.sign_in_as(sub="g-ann", email="ann@gmail.com", name="Ann")
    google_sign_in(client, google)
    page = client.get("/account/identities/apple/link").text
    assert 'name="password"' not in page and "Continue to Apple" in page
    response = client.post("/account/identities/apple/link")
    assert response.status_code == 303 and response.location.startswith(apple.issuer + "/authorize?")


def test_an_unknown_provider_has_no_link_page(client, login_as):
    login_as()
    assert client.get("/account/identities/github/link").status_code == 404
