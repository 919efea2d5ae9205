"""The account page (issue 8): the name, a change of email that takes effect only from the link
mailed to the new address, and a first password for an account that has none."""

import html
import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from tests.conftest import PASSWORD, Client, TestingConfig, field_errors, listed_tablos, mailed_link, mails, page_title, signed_in_as
from tests.test_tasks import run_together
from xtablo import create_app
from xtablo.models import Role, TabloInvitation, User

CONFIRM = "/account/email/confirm/"


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash flash-\w+">([^<]*)</p>', page)]


def fresh(db, user: User) -> User:
    db.session.rollback()
    return db.session.get(User, user.id)


def ask_for(client, new_email: str, password: str | None = PASSWORD):
    data = {"email-new_email": new_email}
    if password is not None:
        data["email-current_password"] = password
    return client.post("/account/email", data=data)


# -- Name and language --------------------------------------------------------------------------


def test_the_name_is_saved_with_the_language_and_shown_in_the_header(client, db, login_as):
    ada = login_as()
    response = client.post("/account", data={"name": "  Ada Lovelace ", "language": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert fresh(db, ada).name == "Ada Lovelace"
    assert signed_in_as(client) == "Ada Lovelace"
    assert 'value="Ada Lovelace"' in client.get("/account").text


@pytest.mark.parametrize("name, message", [("", "This field is required."), ("   ", "This field is required."),
                                           ("x" * 101, "Field cannot be longer than 100 characters.")])
def test_a_bad_name_is_refused_under_its_field(client, db, login_as, name, message):
    ada = login_as()
    response = client.post("/account", data={"name": name, "language": "fr"})
    assert response.status_code == 422
    assert field_errors(response.text) == {"name": message}
    assert (fresh(db, ada).name, fresh(db, ada).locale) == (ada.name, None)


# -- Changing the email -------------------------------------------------------------------------


def test_a_new_email_takes_effect_only_from_the_link_mailed_to_it(app, client, db, caplog, login_as, make_user):
    ada = login_as(make_user(name="Ada", email="ada@example.com"))
    response = ask_for(client, "Ada@New.example")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert ("We sent a link to ada@new.example: your email becomes that address when you open it. "
            "Until then it stays ada@example.com. It works for 48 hours.") in flashes(client.get("/account").text)
    [(to, subject, body)] = mails(caplog)
    assert (to, subject) == ("ada@new.example", "Confirm your new xtablo email")
    assert "the xtablo account that uses ada@example.com now" in body
    assert fresh(db, ada).email == "ada@example.com"
    link = mailed_link(caplog, CONFIRM)

    page = client.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and page_title(page.text) == "Change your email"
    assert "Make ada@new.example the email of your xtablo account, instead of ada@example.com?" in page.text
    assert fresh(db, ada).email == "ada@example.com"

    response = client.post(link)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    account = client.get("/account").text
    assert "Your xtablo email is now ada@new.example." in flashes(account)
    assert "Your email is ada@new.example, verified." in account
    ada = fresh(db, ada)
    assert ada.email == "ada@new.example" and ada.email_verified
    [(to, subject, body)] = mails(caplog)
    assert (to, subject) == ("ada@example.com", "Your xtablo email was changed")
    assert "was changed from ada@example.com to ada@new.example" in body
    assert "If it wasn't you, someone else is using your account" in body
    assert app.test_client().post("/login", data={"email": "ada@example.com", "password": PASSWORD}).status_code == 422
    assert app.test_client().post("/login", data={"email": "ada@new.example", "password": PASSWORD}).status_code == 303


def test_the_link_works_in_another_browser_once_signed_in_there(app, client, db, caplog, login_as):
    """The link proves the new mailbox, the session the account: signed out, the browser signs
    in first and comes back to the link."""
    ada = login_as()
    ask_for(client, "ada@new.example")
    link = mailed_link(caplog, CONFIRM)
    phone = app.test_client()
    page = phone.get(link).text
    assert ">Sign in to confirm</a>" in page and "Use ada@new.example</button>" not in page
    response = phone.post(link)
    assert response.status_code == 303 and response.headers["Location"].startswith("/login?next=")
    assert fresh(db, ada).email == ada.email
    assert phone.post(response.headers["Location"], data={"email": ada.email, "password": PASSWORD}).headers["Location"] == link
    assert phone.post(link).headers["Location"] == "/account"
    assert "Your xtablo email is now ada@new.example." in flashes(phone.get("/account").text)
    assert fresh(db, ada).email == "ada@new.example"


def test_the_link_changes_nothing_for_another_account(app, client, db, caplog, login_as, make_user):
    ada = login_as()
    ask_for(client, "ada@new.example")
    link = mailed_link(caplog, CONFIRM)
    make_user(name="Bea", email="bea@example.com")
    bea = app.test_client()
    assert bea.post("/login", data={"email": "bea@example.com", "password": PASSWORD}).status_code == 303
    assert "This browser is signed in to another account (bea@example.com)." in bea.get(link).text
    assert bea.post(link).status_code == 403
    assert fresh(db, ada).email == ada.email


@pytest.mark.parametrize("password, status, message", [
    ("not my password", 422, "This is not your current password."),
    ("", 422, "This field is required."),
])
def test_the_current_password_is_required(client, db, caplog, login_as, password, status, message):
    ada = login_as()
    response = ask_for(client, "ada@new.example", password)
    assert response.status_code == status
    assert page_title(response.text) == "Your account"
    assert field_errors(response.text) == {"email-current_password": message}
    assert 'value="ada@new.example"' in response.text  # the form keeps what was typed
    assert mails(caplog) == [] and fresh(db, ada).email == ada.email


def test_wrong_passwords_here_count_with_the_password_form(client, db, caplog, login_as):
    login_as()
    for _ in range(3):
        client.post("/account/password", data={"current_password": "wrong", "new_password": "a new secret", "confirm": "a new secret"})
    statuses = [ask_for(client, "ada@new.example", "wrong").status_code for _ in range(3)]
    assert statuses == [422, 422, 429]
    refused = ask_for(client, "ada@new.example")
    assert refused.status_code == 429
    assert field_errors(refused.text) == {"email-current_password": "Too many wrong passwords. Wait 15 minutes, then try again."}
    assert mails(caplog) == []


@pytest.mark.parametrize("new_email, message", [
    ("taken@example.com", "An account already uses this email."),
    ("TAKEN@Example.COM", "An account already uses this email."),
    ("ME@example.com", "This is already your email."),
    ("not an email", "Invalid email address."),
])
def test_a_new_email_must_be_free_and_valid(client, db, caplog, login_as, make_user, new_email, message):
    make_user(email="taken@example.com")
    login_as(make_user(email="me@example.com"))
    response = ask_for(client, new_email)
    assert response.status_code == 422
    assert field_errors(response.text) == {"email-new_email": message}
    assert mails(caplog) == []


def test_an_address_taken_before_the_link_is_opened_stays_with_its_account(app, client, db, caplog, login_as):
    ada = login_as()
    ask_for(client, "wanted@example.com")
    link = mailed_link(caplog, CONFIRM)
    other = app.test_client()
    other.post("/signup", data={"name": "Eve", "email": "wanted@example.com", "password": PASSWORD, "confirm": PASSWORD})
    caplog.clear()
    response = client.post(link)
    assert response.status_code == 409 and page_title(response.text) == "This email is taken"
    assert f"Another account uses wanted@example.com now, so it cannot become yours: your email stays {ada.email}." in response.text
    assert fresh(db, ada).email == ada.email and mails(caplog) == []


class LongAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 49 * 3600  # past EMAIL_VERIFICATION_HOURS (48)


@pytest.mark.parametrize("how", ["used", "replaced by another change", "expired", "forged", "mistyped"])
def test_dead_links_say_so_and_change_nothing(app, client, db, caplog, login_as, how):
    ada = login_as()
    ask_for(client, "first@example.com")
    link = mailed_link(caplog, CONFIRM)
    token = link.removeprefix(CONFIRM)
    if how == "used":
        assert client.post(link).status_code == 303
    elif how == "replaced by another change":
        ask_for(client, "second@example.com")
        assert client.post(mailed_link(caplog, CONFIRM)).status_code == 303
    elif how == "expired":
        with app.test_request_context():
            data = URLSafeTimedSerializer(app.secret_key, salt="xtablo-email-change").loads(token)
            token = URLSafeTimedSerializer(app.secret_key, salt="xtablo-email-change", signer=LongAgoSigner).dumps(data)
    elif how == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    else:
        token = token[:12]
    before = fresh(db, ada).email
    for method in ("GET", "POST"):
        response = client.open(CONFIRM + token, method=method)
        assert response.status_code == 410 and page_title(response.text) == "This link does not work"
        assert "To change your email, ask again from your account page." in response.text
    assert fresh(db, ada).email == before


def test_the_change_claims_the_invitations_to_the_new_email(client, db, caplog, login_as, make_user, make_tablo):
    owner = make_user(name="Owner")
    tablo = make_tablo(owner=owner, title="Garden")
    TabloInvitation.invite(tablo, "ada@new.example", Role.EDITOR, invited_by=owner)
    db.session.commit()
    login_as()
    ask_for(client, "ada@new.example")
    client.post(mailed_link(caplog, CONFIRM))
    page = client.get("/tablos").text
    assert listed_tablos(page) == ["Garden"]


def test_an_unverified_account_fixes_a_mistyped_email(client, db, caplog, login_as, make_user):
    ada = login_as(make_user(email="ada@exmaple.com", verified=False))
    ask_for(client, "ada@example.com")
    client.post(mailed_link(caplog, CONFIRM))
    ada = fresh(db, ada)
    assert (ada.email, ada.email_verified) == ("ada@example.com", True)
    assert 'id="verify-banner"' not in client.get("/tablos").text


def test_an_old_verification_or_reset_link_dies_with_the_change(app, client, db, caplog, login_as, make_user):
    ada = login_as(make_user(email="ada@example.com", verified=False))
    with app.test_request_context():
        verification, reset = ada.verification_token(), ada.reset_token()
    ask_for(client, "ada@new.example")
    client.post(mailed_link(caplog, CONFIRM))
    assert app.test_client().get(f"/email/verify/{verification}").status_code == 410
    # A reset link mailed to the address the account left no longer speaks for it.
    assert app.test_client().get(f"/password/reset/{reset}").status_code == 410


def test_asking_for_changes_is_limited_per_account(app_env, db, caplog, make_user):
    strict = create_app(TestingConfig(app_env | {"EMAIL_LINK_LIMIT": "2 per hour"}))
    strict.test_client_class = Client
    try:
        ada = make_user()
        browser = strict.test_client()
        browser.post("/login", data={"email": ada.email, "password": PASSWORD})
        statuses = [ask_for(browser, f"new{i}@example.com").status_code for i in range(3)]
        assert statuses == [303, 303, 429]
        refused = ask_for(browser, "new9@example.com")
        assert field_errors(refused.text) == {"email-new_email": "You asked for several links already. Wait an hour, then try again."}
        assert [to for to, _, _ in mails(caplog)] == ["new0@example.com", "new1@example.com"]
    finally:
        with strict.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()


def test_two_accounts_confirming_the_same_address_at_once(app, db, caplog, make_user):
    """Two people given links to one address (both mailed to it) open them at the same moment:
    one gets the address, the other a page that says it is taken; never a 500."""
    for round_ in range(4):
        wanted = f"wanted{round_}@example.com"
        users, links = [], []
        for _ in range(2):
            user = make_user()
            browser = app.test_client()
            browser.post("/login", data={"email": user.email, "password": PASSWORD})
            ask_for(browser, wanted)
            users.append(user)
            links.append((browser, mailed_link(caplog, CONFIRM)))
        answers = {}

        def confirm(i):
            browser, link = links[i]
            answers[i] = browser.post(link)

        assert run_together(lambda: confirm(0), lambda: confirm(1)) == []
        assert sorted(answer.status_code for answer in answers.values()) == [303, 409]
        loser = next(i for i, answer in answers.items() if answer.status_code == 409)
        assert page_title(answers[loser].text) == "This email is taken"
        emails = [fresh(db, user).email for user in users]
        assert emails.count(wanted) == 1 and emails[loser] == users[loser].email


# -- An account without a password --------------------------------------------------------------


@pytest.fixture
def social_only(client, db, login_as, make_user):
    """Signed in, then the password is gone: an account that signs in with Google or Apple."""
    user = login_as(make_user(name="Sam", email="sam@example.com"))
    user.password_hash = None
    db.session.commit()
    return user


def test_an_account_without_a_password_sets_one_through_a_mailed_link(app, client, db, caplog, social_only):
    """The session alone is no proof (a copy of its cookie works as well), and a password would
    outlive it: the first password is chosen through a link mailed to the account's email."""
    account = client.get("/account").text
    assert '<a href="/account/password">Set a password</a>' in account
    assert "Change your password" not in account
    page = client.get("/account/password")
    assert page.status_code == 200 and page_title(page.text) == "Set a password"
    assert 'type="password"' not in page.text and "Email me a link to set a password</button>" in page.text
    assert "a link we send to sam@example.com" in page.text
    response = client.post("/account/password", data={"new_password": "a first secret", "confirm": "a first secret"})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert fresh(db, social_only).password_hash is None  # fields posted with it change nothing
    account = client.get("/account").text
    assert "We sent a link to sam@example.com: open it to choose your password. It works once, for 1 hour." in flashes(account)
    [(to, subject, body)] = mails(caplog)
    assert (to, subject) == ("sam@example.com", "Set your xtablo password")
    assert "which signs in with Google or Apple" in body and "your account stays without a password" in body
    link = mailed_link(caplog, "/password/reset/")
    assert page_title(client.get(link).text) == "Set a password"
    assert client.post(link, data={"new_password": "a first secret", "confirm": "a first secret"}).status_code == 303
    assert "Password set. You can also sign in with your email and this password now." in flashes(client.get("/tablos").text)
    assert '<a href="/account/password">Change your password</a>' in client.get("/account").text
    assert app.test_client().post("/login", data={"email": "sam@example.com", "password": "a first secret"}).status_code == 303
    assert client.get(link).status_code == 410  # once


def test_asking_for_first_password_links_is_limited(client, db, caplog, social_only):
    for _ in range(5):
        assert client.post("/account/password").status_code == 303
    response = client.post("/account/password")
    assert response.status_code == 429
    assert "You asked for several links already. Wait an hour, then try again." in flashes(response.text)
    assert len(mails(caplog)) == 5


def test_an_account_with_a_password_must_give_it_to_change_it(client, login_as):
    login_as()
    response = client.post("/account/password", data={"new_password": "a first secret", "confirm": "a first secret"})
    assert response.status_code == 422
    assert field_errors(response.text) == {"current_password": "This field is required."}


def test_without_a_password_the_email_changes_without_one(client, db, caplog, social_only):
    form = client.get("/account").text
    assert 'name="email-new_email"' in form and 'name="email-current_password"' not in form
    assert ask_for(client, "sam@new.example", password=None).status_code == 303
    client.post(mailed_link(caplog, CONFIRM))
    assert fresh(db, social_only).email == "sam@new.example"
