"""Forgot password: a link by mail, once, for an hour; the answer never says whether an account
uses the email; the mail goes over real SMTP when configured, to the log otherwise."""

import email
import email.policy
import importlib.util
import re
import socket
import socketserver
import threading
import time
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from tests.conftest import PASSWORD, Client, TestingConfig
from xtablo import create_app
from xtablo.models import Session, User, UserIdentity

LINK = re.compile(r"http://localhost(/password/reset/[\w.-]+)")
NEW = "a brand new secret"


def ask(client, email):
    return client.post("/password/forgot", data={"email": email})


def mailed_link(caplog) -> str:
    links = LINK.findall(caplog.text)
    assert len(links) == 1, caplog.text
    caplog.clear()
    return links[0]


def live_sessions(db, user) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Session).where(Session.user_id == user.id, Session.ended_at.is_(None)))


def test_the_answer_is_the_same_whether_or_not_an_account_uses_the_email(client, caplog, make_user):
    make_user(email="ada@example.com")
    known, unknown = ask(client, "ada@example.com"), ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/login"
    page = client.get("/login").text
    assert "If an account uses ada@example.com, a link to choose a new password is on its way." in page
    assert "If an account uses nobody@example.com, a link to choose a new password is on its way." in page
    assert len(LINK.findall(caplog.text)) == 1  # one mail: to the account that exists


def test_the_link_sets_a_new_password_signs_out_everywhere_and_signs_in_here(app, client, db, caplog, make_user):
    user = make_user(email="ada@example.com")
    elsewhere = app.test_client()
    assert elsewhere.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    ask(client, "ada@example.com")
    link = mailed_link(caplog)
    assert "Choose a new password" in client.get(link).text
    response = client.post(link, data={"new_password": NEW, "confirm": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/tablos"
    assert client.get("/tablos").status_code == 200  # signed in here
    assert elsewhere.get("/tablos").status_code == 302  # and nowhere else
    assert live_sessions(db, user) == 1
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 422
    assert fresh.post("/login", data={"email": user.email, "password": NEW}).status_code == 303


def test_a_link_works_once(app, client, db, caplog, make_user):
    make_user(email="ada@example.com")
    ask(client, "ada@example.com")
    link = mailed_link(caplog)
    assert client.post(link, data={"new_password": NEW, "confirm": NEW}).status_code == 303
    again = app.test_client().post(link, data={"new_password": "attacker's choice", "confirm": "attacker's choice"})
    assert again.status_code == 410 and "This link does not work" in again.text
    assert app.test_client().post("/login", data={"email": "ada@example.com", "password": NEW}).status_code == 303


def test_an_old_link_dies_when_the_password_changes_another_way(client, login_as, caplog, make_user):
    user = make_user(email="ada@example.com")
    ask(client, "ada@example.com")
    link = mailed_link(caplog)
    login_as(user)
    client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    assert client.get(link).status_code == 410


class PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 2 * 3600  # two hours ago


@pytest.mark.parametrize("how", ["expired", "forged", "mistyped", "another app's"])
def test_dead_links_say_so_and_change_nothing(app, client, db, make_user, how):
    user = make_user(email="ada@example.com")
    before = user.password_hash
    with app.test_request_context():
        token = user.reset_token()
        if how == "expired":
            genuine = URLSafeTimedSerializer(app.secret_key, salt="xtablo-password-reset").loads(token)
            token = URLSafeTimedSerializer(app.secret_key, salt="xtablo-password-reset", signer=PastSigner).dumps(genuine)
        elif how == "forged":
            token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        elif how == "mistyped":
            token = token[:10]
        else:
            token = URLSafeTimedSerializer("another secret" * 3, salt="xtablo-password-reset").dumps({"user": user.id})
    for method in ("GET", "POST"):
        response = client.open(f"/password/reset/{token}", method=method, data={"new_password": NEW, "confirm": NEW})
        assert response.status_code == 410
        assert "This link does not work" in response.text
    db.session.rollback()
    assert db.session.get(User, user.id).password_hash == before


def test_bad_new_passwords_are_refused_under_their_field(client, db, caplog, make_user):
    make_user(email="ada@example.com")
    ask(client, "ada@example.com")
    link = mailed_link(caplog)
    response = client.post(link, data={"new_password": "short", "confirm": "short"})
    assert response.status_code == 422
    assert "Use at least 8 characters." in response.text.split('<label for="new_password">', 1)[1].split("</div>", 1)[0]
    assert client.post(link, data={"new_password": NEW, "confirm": NEW}).status_code == 303  # still usable


def test_requests_are_limited_per_address(client, app_env, db, make_user):
    strict = create_app(TestingConfig(app_env | {"PASSWORD_RESET_LIMIT_PER_IP": "2 per hour"}))
    strict.test_client_class = Client
    try:
        browser = strict.test_client()
        statuses = [ask(browser, f"n{i}@example.com").status_code for i in range(3)]
        assert statuses == [303, 303, 429]
    finally:
        with strict.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()


# -- Real SMTP on loopback ---------------------------------------------------------------------


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough of an SMTP server (RFC 5321) to receive one message per connection."""

    def handle(self):
        self.wfile.write(b"220 localhost test SMTP\r\n")
        data, in_data = [], False
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace")
            if in_data:
                if line.rstrip("\r\n") == ".":
                    self.server.messages.append("".join(data))
                    in_data, data = False, []
                    self.wfile.write(b"250 OK\r\n")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250 localhost\r\n")
            elif verb == "DATA":
                in_data = True
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    server.daemon_threads = True
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_mail_goes_out_over_smtp_when_configured(app_env, db, make_user, smtp_server, caplog):
    make_user(name="Ada", email="ada@example.com")
    port = smtp_server.server_address[1]
    mailing = create_app(TestingConfig(app_env | {"SMTP_URL": f"smtp://127.0.0.1:{port}", "MAIL_FROM": "xtablo <team@example.com>"}))
    mailing.test_client_class = Client
    try:
        browser = mailing.test_client()
        response = ask(browser, "ada@example.com")
        assert response.status_code == 303
        # The mail goes out once the answer has: when the server closes the response.
        assert smtp_server.messages == []
        response.close()
        assert len(smtp_server.messages) == 1
        message = email.message_from_string(smtp_server.messages[0], policy=email.policy.default)
        assert (message["To"], message["From"]) == ("ada@example.com", "xtablo <team@example.com>")
        assert message["Subject"] == "Choose a new xtablo password"
        body = message.get_content()
        assert body.startswith("Hello Ada,")
        link = LINK.search(body).group(1)
        assert LINK.search(caplog.text) is None  # sent, not logged
        assert browser.post(link, data={"new_password": NEW, "confirm": NEW}).status_code == 303
    finally:
        with mailing.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()


def test_a_mail_server_that_is_down_changes_nothing_for_the_person(app_env, db, make_user, caplog):
    make_user(email="ada@example.com")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nobody listens there
    down = create_app(TestingConfig(app_env | {"SMTP_URL": f"smtp://127.0.0.1:{port}", "MAIL_TIMEOUT": "2"}))
    down.test_client_class = Client
    try:
        browser = down.test_client()
        response = ask(browser, "ada@example.com")
        assert response.status_code == 303
        assert "a link to choose a new password is on its way" in browser.get("/login").text
        response.close()  # the server, once the answer is sent
        assert "Mail to ada@example.com not sent" in caplog.text
    finally:
        with down.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()


def test_the_access_log_never_shows_a_reset_token():
    path = Path(__file__).resolve().parent.parent / "xtablo" / "web" / "accesslog.py"
    spec = importlib.util.spec_from_file_location("accesslog", path)
    accesslog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accesslog)
    assert accesslog.redact("GET /password/reset/eyJ1c2VyIjo1fQ.aB-c.dE_f HTTP/1.1") == "GET /password/reset/[redacted] HTTP/1.1"
    assert accesslog.redact("GET /password/forgot HTTP/1.1") == "GET /password/forgot HTTP/1.1"


def test_the_access_log_never_shows_a_sign_in_code():
    """Google's answer comes back as `/auth/google/callback?code=...&state=...`: the code is
    redacted wherever the log format shows it (request line, query string, a Referer)."""
    path = Path(__file__).resolve().parent.parent / "xtablo" / "web" / "accesslog.py"
    spec = importlib.util.spec_from_file_location("accesslog", path)
    accesslog = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accesslog)
    assert (accesslog.redact("GET /auth/google/callback?code=4/0AfJohX-a_b&state=S1 HTTP/1.1")
            == "GET /auth/google/callback?code=[redacted]&state=S1 HTTP/1.1")
    assert accesslog.redact("state=S1&code=4/0AfJohX") == "state=S1&code=[redacted]"
    assert accesslog.redact("code=4/0AfJohX&state=S1") == "code=[redacted]&state=S1"
    assert accesslog.redact("http://127.0.0.1/auth/google/callback?id_token=eyJ.x.y") == "http://127.0.0.1/auth/google/callback?id_token=[redacted]"
    assert accesslog.redact("GET /tablos?zipcode=75001 HTTP/1.1") == "GET /tablos?zipcode=75001 HTTP/1.1"


def test_the_reset_unlinks_the_providers_that_do_not_vouch_for_the_email(client, db, caplog, make_user):
    """The link proves the mailbox, not whoever linked a Google or Apple account: only one that
    vouches for that very address (verified by the provider) stays linked, and the page says so."""
    user = make_user(email="ada@example.com", verified=False)
    db.session.add_all([
        UserIdentity(user=user, provider="google", provider_subject="g-ada", email="ada@example.com", email_verified=True),
        UserIdentity(user=user, provider="apple", provider_subject="a-other", email="someone@icloud.com", email_verified=True),
    ])
    db.session.commit()
    ask(client, "ada@example.com")
    assert client.post(mailed_link(caplog), data={"new_password": NEW, "confirm": NEW}).status_code == 303
    assert ("Password changed. Every other browser is signed out. The Google or Apple account linked to yours did not confirm "
            "ada@example.com, so it is unlinked: link it again from your account page if it is yours.") in client.get("/tablos").text
    db.session.rollback()
    assert [each.provider for each in db.session.scalars(select(UserIdentity))] == ["google"]
