"""Fixtures: the app on each database, a client, factories and a sign-in helper.

Every test runs twice, on SQLite and on PostgreSQL (the `backend` parameter). The SQLite run uses
the default single-box configuration (rate-limit counters in the database); the PostgreSQL run
uses Redis for them, as a larger install would. Each pytest-xdist worker gets its own SQLite file,
PostgreSQL database and Redis database; the schema is built once per worker with the Alembic
migrations, and every test starts from empty tables.
"""

import html
import os
import socket
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from tests.oidc_provider import Provider, apple_key
from xtablo import create_app
from xtablo.config import Config
from xtablo.extensions import db as _db
from xtablo.models import Tablo, Task, User
from xtablo.models._types import utcnow
from xtablo.models.user import password_hasher

PG_ADMIN_URL = os.environ.get("XTABLO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("XTABLO_TEST_REDIS", "redis://127.0.0.1:6379")
BACKENDS = ["sqlite", "postgresql"]
PASSWORD = "correct horse battery"


def worker_number(worker_id: str) -> int:
    return 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))


def recreate_pg_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"


def drop_pg_database(url: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def database_env(backend: str, label: str, worker_id: str, tmp_dir: Path, run_id: str = "") -> dict[str, str]:
    """Environment variables for a fresh, empty database of `backend` (and its Redis).

    Names carry the test run's id, so two runs on one machine (a developer's and a helper's)
    never drop each other's databases; Redis keys carry it as their prefix.
    """
    if backend == "sqlite":
        return {"DATABASE_URL": f"sqlite:///{tmp_dir / f'{label}.sqlite'}"}
    # With REDIS_URL set the chat's workers ring each other through Redis (xtablo/realtime/brokers.py),
    # whose channels are server-wide: each app gets its own.
    number = worker_number(worker_id)
    redis_url = f"{REDIS_BASE_URL}/{1 + (2 * number + (label == 'live')) % 15}"
    prefix = f"xtablo-test-{run_id}-{worker_id}-{label}"
    return {
        "DATABASE_URL": recreate_pg_database(f"xtablo_{label}_{run_id}_{worker_id}".lower()),
        "REDIS_URL": redis_url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "REALTIME_CHANNEL": prefix,
    }


def clear_redis(env: dict[str, str]) -> None:
    if env.get("REDIS_URL"):
        client = redis.Redis.from_url(env["REDIS_URL"])
        for key in client.scan_iter(f"{env['RATELIMIT_KEY_PREFIX']}*"):
            client.delete(key)
        client.close()


class TestingConfig(Config):
    __test__ = False  # a config, not a test class
    TESTING = True
    WTF_CSRF_ENABLED = False  # see test_security.py for the CSRF checks, with it on

    def __init__(self, env):
        # Tests sign up many people from one address; test_rate_limit.py sets its own limit.
        # A slow answer of the shared test Redis on a loaded machine would send the sign-in
        # counters to the database's for 30 s, which count from zero: the tests' apps wait 5 s
        # rather than the 0.5 s of a production default. Tests of a Redis that does not answer
        # say how long they wait (test_rate_limit.py).
        super().__init__({"SIGN_UP_LIMIT_PER_IP": "1000 per hour", "REDIS_TIMEOUT": "5"} | dict(env))



@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


# -- Google and Apple: real OpenID Connect providers on loopback (tests/oidc_provider.py) --------
# One of each per test process, shared by the unit apps and the live server. Apple's is served as
# `localhost` so that, to a browser, the app at 127.0.0.1 is another site (its form_post is a
# cross-site POST for real); Google's at 127.0.0.1.
APPLE_TEAM_ID, APPLE_KEY_ID = "TEAM123456", "KEY1234567"


@pytest.fixture(scope="session")
def apple_signing_key() -> tuple[str, str]:
    return apple_key()


@pytest.fixture(scope="session")
def _google() -> Iterator[Provider]:
    with Provider(mode="google", client_id="xtablo-google", client_secret="google-secret") as provider:
        yield provider


@pytest.fixture(scope="session")
def _apple(apple_signing_key) -> Iterator[Provider]:
    with Provider(mode="apple", host="localhost", client_id="com.example.xtablo", apple_team_id=APPLE_TEAM_ID,
                  apple_key_id=APPLE_KEY_ID, apple_public_key_pem=apple_signing_key[1]) as provider:
        yield provider


def _fresh(provider: Provider) -> Provider:
    """As if nobody had used it: no person signed in there, no lie pending, no name sent yet."""
    with provider.lock:
        provider.person, provider.knobs = None, {}
        provider.apple_subs_seen.clear()
    return provider


@pytest.fixture
def google(_google) -> Provider:
    return _fresh(_google)


@pytest.fixture
def apple(_apple) -> Provider:
    return _fresh(_apple)


@pytest.fixture(scope="session")
def provider_env(_google, _apple, apple_signing_key) -> dict[str, str]:
    """The settings that point an app at the two providers."""
    return {
        "GOOGLE_CLIENT_ID": _google.client_id, "GOOGLE_CLIENT_SECRET": _google.client_secret,
        "GOOGLE_DISCOVERY_URL": _google.discovery_url,
        "APPLE_CLIENT_ID": _apple.client_id, "APPLE_TEAM_ID": APPLE_TEAM_ID, "APPLE_KEY_ID": APPLE_KEY_ID,
        "APPLE_PRIVATE_KEY": apple_signing_key[0], "APPLE_DISCOVERY_URL": _apple.discovery_url,
    }


@pytest.fixture(scope="session")
def app_env(backend, worker_id, testrun_uid, tmp_path_factory, provider_env) -> dict[str, str]:
    env = database_env(backend, "unit", worker_id, tmp_path_factory.mktemp(backend), testrun_uid[:8])
    env |= provider_env
    env["SECRET_KEY"] = "test-" + "x" * 40
    yield env
    if backend == "postgresql":
        drop_pg_database(env["DATABASE_URL"])


class Client(FlaskClient):
    """A browser. Before each request the test's own database session ends its transaction, as
    another process would between two clicks: the test then reads what requests committed, and
    holds no SQLite lock while a request writes."""

    def open(self, *args, **kwargs):
        if has_app_context():
            _db.session.rollback()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def _app(app_env):
    app = create_app(TestingConfig(app_env))
    app.test_client_class = Client
    with app.app_context():
        upgrade()
        _db.session.remove()
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture(scope="session")
def _side_app(_app, app_env):
    """A second app on the same database, for the test's own context: if the test and its
    client shared one app, Flask would reuse the test's app context (and its `g` and database
    session) inside every client request, and a request would see what the test cached."""
    side = create_app(TestingConfig(app_env))
    yield side
    with side.app_context():
        _db.engine.dispose()


@pytest.fixture(autouse=True)
def _push_request_context(request):
    """Replaces pytest-flask's fixture of that name: push the side app's context instead."""
    if "app" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("app")  # set up first, so torn down after this context is popped
    with request.getfixturevalue("_side_app").app_context():
        yield


@pytest.fixture
def app(_app, app_env):
    """The app the client talks to (the "server"), its Redis counters empty from the start: a key
    left by anything that escaped a teardown would count against this test's attempts."""
    clear_redis(app_env)
    yield _app
    # The test's own session went with its app context (Flask-SQLAlchemy removes it on pop).
    with _app.app_context():
        _db.session.remove()
        empty_tables()
    clear_redis(app_env)


@pytest.fixture
def csrf_app(app_env, app):
    """The app with CSRF protection on, as in production, on the same database as `app`."""
    config = TestingConfig(app_env)
    config.WTF_CSRF_ENABLED = True
    csrf_app = create_app(config)
    csrf_app.test_client_class = Client
    yield csrf_app
    with csrf_app.app_context():
        _db.engine.dispose()


@pytest.fixture
def csrf_client(csrf_app):
    return csrf_app.test_client()


def csrf_token_from(page: str) -> str:
    """The CSRF token of the page's first form."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def csrf_sign_in(client, user: User) -> None:
    """Sign in through the sign-in form, token included, as a browser would (CSRF on)."""
    token = csrf_token_from(client.get("/login").text)
    assert client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}).status_code == 303


@pytest.fixture
def client(app):
    """Replaces pytest-flask's client, which keeps each request's context pushed after the
    request (`with app.test_client()`): the test would then run inside its last request."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """The `flask` command line of the app; like the client, it ends the test's transaction first."""
    cli = app.test_cli_runner()
    invoke = cli.invoke

    def invoke_fresh(*args, **kwargs):
        _db.session.rollback()
        return invoke(*args, **kwargs)

    cli.invoke = invoke_fresh
    return cli


def empty_tables() -> None:
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def db(app):
    """The database, seen afresh: tests read what requests committed, not a stale snapshot."""
    _db.session.rollback()
    return _db


_hashes: dict[str, str] = {}


def fast_hash(password: str) -> str:
    # argon2id is slow on purpose; the factories hash each distinct password once per run.
    if password not in _hashes:
        _hashes[password] = password_hasher.hash(password)
    return _hashes[password]


@pytest.fixture
def make_user(app):
    """A new account. Its email is verified unless `verified=False` (one that signed up and has
    not opened the mailed link yet): most tests are about something else than that link."""
    counter = iter(range(1, 10_000))

    def make(name: str | None = None, email: str | None = None, password: str | None = PASSWORD, verified: bool = True) -> User:
        n = next(counter)
        user = User.create(name=name or f"User {n}", email=email or f"user{n}@example.com", password=None)
        user.password_hash = fast_hash(password) if password is not None else None
        user.email_verified_at = utcnow() if verified else None
        _db.session.commit()
        return user

    return make


@pytest.fixture
def make_tablo(app, make_user):
    def make(owner: User | None = None, title: str = "Launch", tasks: int | dict[str, list[str]] = 0, **kwargs) -> Tablo:
        tablo = Tablo.create(owner=owner or make_user(), title=title, **kwargs)
        if isinstance(tasks, int):
            for i in range(tasks):
                Task.create(tablo, title=f"Task {i + 1}")
        else:
            for status, titles in tasks.items():
                for title_ in titles:
                    Task.create(tablo, title=title_, status=status)
        _db.session.commit()
        return tablo

    return make


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, user_or_email, password: str = PASSWORD, **kwargs):
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        return self.client.post("/login", data={"email": email, "password": password}, **kwargs)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def login_as(auth, make_user):
    """Sign the test client in as `user` (a new one by default) and return that user."""

    def login(user: User | None = None) -> User:
        user = user or make_user()
        response = auth.login(user)
        assert response.status_code == 303, response.text
        return user

    return login


def pytest_configure(config) -> None:
    """Compile the translation catalogues when they are missing or older than their source, as
    `make test` does, so that `pytest` alone runs the French tests on today's messages."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).resolve().parent.parent / "xtablo" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalogue = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalogue)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # One browser and one live server per session: keep the browser tests on one xdist worker.
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


def iter_rows(model) -> Iterator:
    return iter(_db.session.scalars(_db.select(model)))


# -- What a person sees -----------------------------------------------------------------------
# Assert these rather than a substring: a substring can also sit on an error page, in a flash
# message or in a form field's value.


def page_title(page: str) -> str:
    """The page's <title>, less the site name: which page this is ("Not found" for a 404)."""
    return html.unescape(re.search(r"<title>(.*?) · xtablo</title>", page, re.S).group(1).strip())


def signed_in_as(client) -> str | None:
    """The name the header shows to this browser, or None when it is signed out."""
    response = client.get("/tablos")
    if response.status_code == 302:
        return None
    return html.unescape(re.search(r'<a href="/account" title="[^"]*">([^<]*)</a>', response.text).group(1))


def listed_tablos(page: str) -> list[str]:
    """The titles of the tablos listed on "My tablos" (which it must be)."""
    assert page_title(page) == "My tablos"
    return [html.unescape(t) for t in re.findall(r'<li class="tablo-card[^>]*>\s*<a href="[^"]*"><strong>(.*?)</strong>', page)]


def field_errors(page: str) -> dict[str, str]:
    """{field id: its error message}, as drawn under each field of a form."""
    return {f: html.unescape(m) for f, m in re.findall(r'<p class="error" id="([\w-]+)-error">([^<]*)</p>', page)}


def mailed_link(caplog, path: str) -> str:
    """The one link to `path`<token> mailed since the last call, as the person reads it in the
    mail (tests have no SMTP_URL: xtablo writes each mail whole to its log)."""
    links = re.findall(rf"http://localhost({re.escape(path)}[\w.-]+)", caplog.text)
    assert len(links) == 1, caplog.text
    caplog.clear()
    return links[0]


def mails(caplog) -> list[tuple[str, str, str]]:
    """(to, subject, body) of every mail written to the log so far."""
    return [record.args for record in caplog.records if str(record.msg).startswith("Mail not sent (no SMTP_URL)")]


class FrozenServer:
    """A TCP server on loopback that accepts connections and never answers: a frozen Redis or
    PostgreSQL (the kernel completes the handshake; nothing ever replies)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()
