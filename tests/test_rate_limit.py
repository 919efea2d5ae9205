"""Password attempts are counted before they are checked, in storage every worker shares, and
nobody can lock an account's owner out of the browser they use."""

import socket
import threading
import time

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, Client, FrozenServer, TestingConfig
from xtablo import create_app
from xtablo.blueprints.auth.throttle import DEVICE_COOKIE
from xtablo.models import Session, User

LIMIT_MESSAGE = "Too many failed sign-ins"


def attempt(client, email, password="wrong password", ip="10.0.0.1"):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})


def sessions(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Session))


def test_five_failures_from_one_address_stop_that_address_not_the_owner(app, client, db, make_user):
    user = make_user()
    for _ in range(5):
        assert attempt(client, user.email).status_code == 422
    refused = attempt(client, user.email, PASSWORD)
    assert refused.status_code == 429
    assert LIMIT_MESSAGE in refused.text
    assert sessions(db) == 0
    # The owner, elsewhere, is not locked out by what that address did.
    owner = app.test_client()
    assert attempt(owner, user.email, PASSWORD, ip="10.0.0.2").status_code == 303


def test_failures_spread_over_many_addresses_hit_the_account_limit(app, client, db, make_user):
    user = make_user()
    owner = app.test_client()
    assert attempt(owner, user.email, PASSWORD, ip="10.1.0.1").status_code == 303  # the owner's browser
    owner.post("/logout")
    for i in range(30):  # SIGN_IN_LIMIT_PER_ACCOUNT: 30 per hour, 30 addresses with 1 guess each
        assert attempt(client, user.email, ip=f"10.2.0.{i}").status_code == 422
    new_browser = app.test_client()
    assert attempt(new_browser, user.email, PASSWORD, ip="10.3.0.1").status_code == 429
    # The browser the owner signed in from before still gets in, from any address.
    assert attempt(owner, user.email, PASSWORD, ip="10.4.0.1").status_code == 303
    assert owner.get("/tablos").status_code == 200


def test_a_trusted_browser_has_a_limit_of_its_own(app, db, make_user):
    user = make_user()
    owner = app.test_client()
    assert attempt(owner, user.email, PASSWORD).status_code == 303
    owner.post("/logout")
    for _ in range(10):  # SIGN_IN_LIMIT_PER_DEVICE
        assert attempt(owner, user.email).status_code == 422
    assert attempt(owner, user.email, PASSWORD).status_code == 429


@pytest.mark.parametrize("cookie", ["forged", "of-another-account"])
def test_a_device_cookie_only_counts_for_its_own_account(app, client, db, make_user, cookie):
    user, other = make_user(), make_user()
    browser = app.test_client()
    assert attempt(browser, other.email, PASSWORD).status_code == 303
    browser.post("/logout")
    if cookie == "forged":
        browser.set_cookie(DEVICE_COOKIE, browser.get_cookie(DEVICE_COOKIE).value[:-4] + "AAAA")
    for _ in range(5):
        assert attempt(browser, user.email).status_code == 422
    assert attempt(browser, user.email, PASSWORD).status_code == 429


def test_unknown_email_is_limited_like_a_known_one(client, make_user):
    known = make_user()
    answers = {}
    for email in (known.email, "ghost@example.com"):
        for _ in range(5):
            attempt(client, email)
        response = attempt(client, email)
        answers[email] = (response.status_code, LIMIT_MESSAGE in response.text)
    assert answers[known.email] == answers["ghost@example.com"] == (429, True)


def test_ip_is_limited_across_accounts(client, make_user):
    user = make_user()
    for i in range(30):
        attempt(client, f"someone{i}@example.com", ip="10.9.9.9")
    assert attempt(client, user.email, PASSWORD, ip="10.9.9.9").status_code == 429
    assert attempt(client, user.email, PASSWORD, ip="10.9.9.10").status_code == 303


def test_a_right_password_gives_its_attempt_back(app, make_user):
    """Successes are not failures: a whole office behind one address signs in all day."""
    user = make_user()
    for _ in range(40):  # more than the 30 per address and the 5 per (account, address)
        browser = app.test_client()
        assert attempt(browser, user.email, PASSWORD, ip="10.5.5.5").status_code == 303
    browser = app.test_client()
    for _ in range(4):
        assert attempt(browser, user.email, ip="10.5.5.5").status_code == 422
    assert attempt(browser, user.email, PASSWORD, ip="10.5.5.5").status_code == 303


def test_counts_are_shared_between_workers(app, app_env, db, make_user):
    """A second app instance on the same configuration (another gunicorn worker) sees the count."""
    user = make_user()
    other_worker = create_app(TestingConfig(app_env))
    other_worker.test_client_class = Client
    first, second = app.test_client(), other_worker.test_client()
    try:
        for client in (first, second, first, second, first):
            assert attempt(client, user.email).status_code == 422
        assert attempt(second, user.email).status_code == 429
    finally:
        with other_worker.app_context():
            db.engine.dispose()


def test_an_email_of_254_characters_is_limited_too(client, db):
    email = "a" * 63 + "@" + ".".join(["b" * 60] * 3) + ".example"
    assert len(email) == 254
    for _ in range(5):
        assert attempt(client, email).status_code == 422
    assert attempt(client, email).status_code == 429


def test_parallel_wrong_passwords_check_at_most_the_limit(app, db, make_user):
    """Twenty wrong passwords and the right one at the same instant (threads, each its own
    connection to the database or Redis): at most five are ever checked."""
    user = make_user()
    email = user.email
    db.session.rollback()
    barrier = threading.Barrier(21)
    answers = []

    def one(password):
        browser = app.test_client()
        barrier.wait(timeout=10)
        answers.append((password == PASSWORD, attempt(browser, email, password).status_code))

    threads = [threading.Thread(target=one, args=(p,)) for p in ["wrong password"] * 20 + [PASSWORD]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 21
    assert {status for _, status in answers} <= {303, 422, 429}
    checked = [(right, status) for right, status in answers if status != 429]
    assert 1 <= len(checked) <= 5
    assert all(status == (303 if right else 422) for right, status in checked)


# -- When Redis does not answer ----------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["refused", "frozen"])
def redis_down_app(request, app, app_env):
    """An app whose REDIS_URL points at a Redis that refuses connections or never answers."""
    frozen = FrozenServer() if request.param == "frozen" else None
    port = frozen.port if frozen else closed_port()
    env = {k: v for k, v in app_env.items() if k != "RATELIMIT_KEY_PREFIX"} | {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_TIMEOUT": "0.5"}
    broken = create_app(TestingConfig(env))
    broken.test_client_class = Client
    yield broken
    with broken.app_context():
        from xtablo.extensions import db as _db

        _db.engine.dispose()
    if frozen:
        frozen.close()


def test_sign_in_works_and_stays_limited_when_redis_is_down(redis_down_app, db, make_user):
    user = make_user()
    browser = redis_down_app.test_client()
    started = time.monotonic()
    assert attempt(browser, user.email, PASSWORD).status_code == 303
    assert time.monotonic() - started < 3
    assert browser.get("/tablos").status_code == 200
    browser.post("/logout")
    stranger = redis_down_app.test_client()
    for _ in range(5):
        assert attempt(stranger, user.email).status_code == 422
    assert attempt(stranger, user.email, PASSWORD).status_code == 429


def test_an_app_whose_redis_is_down_leaves_another_app_s_counters_alone(redis_down_app, app, db, make_user, caplog):
    """Each app counts in the storage its own configuration names. Two apps in one process (the
    tests make many) once shared the last one's: an app made with a Redis that is down sent the
    other's counts there, and they split between it and the database."""
    user = make_user()
    browser = app.test_client()
    for _ in range(5):
        assert attempt(browser, user.email).status_code == 422
    assert attempt(browser, user.email, PASSWORD).status_code == 429
    assert "Redis is not answering" not in caplog.text


# -- Password change ---------------------------------------------------------------------------


def test_the_password_change_form_is_limited_like_sign_in(client, db, login_as):
    user = login_as()
    before = user.password_hash
    data = {"current_password": "not it at all", "new_password": "a new secret", "confirm": "a new secret"}
    for _ in range(5):
        assert client.post("/account/password", data=data).status_code == 422
    right = data | {"current_password": PASSWORD}
    response = client.post("/account/password", data=right)
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.text
    db.session.rollback()
    assert db.session.get(User, user.id).password_hash == before


def test_no_transaction_stays_open_while_sign_in_waits_for_redis(backend, app, app_env, db, make_user):
    """A sign-in whose stale cookie made the request read the sessions table, then waits on a
    frozen Redis: meanwhile nobody waits on it (SQLite's write lock is free) and it holds no
    PostgreSQL transaction open."""
    email = make_user().email
    first = app.test_client()
    assert attempt(first, email, PASSWORD).status_code == 303
    stale_cookie = first.get_cookie("xtablo_session").value
    first.post("/logout")  # the cookie's session is gone: a stale cookie

    frozen = FrozenServer()
    env = {k: v for k, v in app_env.items() if k != "RATELIMIT_KEY_PREFIX"}
    slow = create_app(TestingConfig(env | {"REDIS_URL": f"redis://127.0.0.1:{frozen.port}/0", "REDIS_TIMEOUT": "2"}))
    slow.test_client_class = Client
    browser = slow.test_client()
    browser.set_cookie("xtablo_session", stale_cookie)
    db.session.rollback()
    result = {}
    signing_in = threading.Thread(target=lambda: result.update(status=attempt(browser, email, PASSWORD).status_code))
    try:
        signing_in.start()
        time.sleep(0.8)  # the sign-in now waits on Redis (2 s)
        assert signing_in.is_alive()
        started = time.monotonic()
        with db.engine.connect() as conn:
            conn.execution_options(xtablo_write=True)
            with conn.begin():
                conn.execute(select(func.count()).select_from(User))  # BEGIN IMMEDIATE on SQLite
                if backend == "postgresql":
                    idle = conn.exec_driver_sql(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state = 'idle in transaction' AND pid <> pg_backend_pid()").scalar()
                    assert idle == 0
        assert time.monotonic() - started < 0.5
        signing_in.join(timeout=10)
        assert result == {"status": 303}  # then it went on with the database's counters
    finally:
        signing_in.join(timeout=10)
        frozen.close()
        with slow.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()


def test_one_address_refused_by_its_own_limit_cannot_lock_the_account(app, client, make_user):
    """Thirty wrong passwords from one address: five are checked, the rest refused, and those
    refused count nowhere else: the owner signs in from a new browser elsewhere."""
    user = make_user()
    statuses = [attempt(client, user.email, ip="10.6.0.1").status_code for _ in range(30)]
    assert statuses == [422] * 5 + [429] * 25
    assert attempt(app.test_client(), user.email, PASSWORD, ip="10.6.0.2").status_code == 303


def test_the_browser_an_account_was_created_in_is_a_trusted_one(app, client, make_user):
    browser = app.test_client()
    data = {"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD}
    assert browser.post("/signup", data=data).status_code == 303
    browser.post("/logout")
    for i in range(30):  # the account's limit, reached from many addresses
        attempt(client, "ada@example.com", ip=f"10.7.0.{i}")
    assert attempt(app.test_client(), "ada@example.com", PASSWORD, ip="10.7.1.1").status_code == 429
    assert attempt(browser, "ada@example.com", PASSWORD, ip="10.7.1.2").status_code == 303


def test_sign_ups_are_limited_per_address(app_env, db):
    strict = create_app(TestingConfig(app_env | {"SIGN_UP_LIMIT_PER_IP": "3 per hour"}))
    strict.test_client_class = Client
    try:
        answers = [strict.test_client().post("/signup", data={"name": f"N{i}", "email": f"n{i}@example.com", "password": PASSWORD,
                                                  "confirm": PASSWORD}).status_code for i in range(4)]
        assert answers[:3] == [303, 303, 303] and answers[3] == 429
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(User)) == 3
    finally:
        with strict.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()
