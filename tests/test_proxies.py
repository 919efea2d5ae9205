"""Behind a reverse proxy: which forwarded headers the app believes.

PROXY_FIX_HOPS trusts X-Forwarded-For and X-Forwarded-Proto; X-Forwarded-Host never changes the
links the app shows (a client can send it through a proxy that passes it on). PUBLIC_URL, when
set, is the base of every absolute link.
"""

import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, Client, TestingConfig
from xtablo import create_app
from xtablo.config import Config, ConfigError
from xtablo.extensions import db as _db
from xtablo.models import Session

FORWARDED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


@pytest.fixture
def app_with(app, app_env):
    """Another app on the test's database, with some settings of its own."""
    made = []

    def make(**env):
        other = create_app(TestingConfig(app_env | env))
        other.test_client_class = Client
        made.append(other)
        return other

    yield make
    for other in made:
        with other.app_context():
            _db.engine.dispose()


def invitation_link_shown(proxied, owner, tablo) -> str:
    client = proxied.test_client()
    assert client.post("/login", data={"email": owner.email, "password": PASSWORD}, headers=FORWARDED).status_code == 303
    created = client.post(f"/tablos/{tablo.id}/links", data={"link-role": "viewer", "link-days": "7"}, headers=FORWARDED)
    assert created.status_code == 303
    page = client.get(f"/tablos/{tablo.id}/members", headers=FORWARDED).text
    assert "evil.example" not in page
    return re.search(r"(\S+)/join/[\w-]+", page).group(1)


def test_proxies_are_trusted_for_the_client_address_and_https_but_not_the_host(app_with, db, make_user, make_tablo):
    owner = make_user()
    tablo = make_tablo(owner=owner, title="Team board")
    proxied = app_with(PROXY_FIX_HOPS="1")
    assert invitation_link_shown(proxied, owner, tablo) == "https://localhost"
    db.session.rollback()
    assert db.session.scalar(select(Session.ip_address).where(Session.user_id == owner.id)) == "203.0.113.9"


def test_public_url_is_the_base_of_the_links_shown(app_with, make_user, make_tablo):
    owner = make_user()
    tablo = make_tablo(owner=owner, title="Team board")
    proxied = app_with(PROXY_FIX_HOPS="1", PUBLIC_URL="https://xtablo.example.com/")
    assert invitation_link_shown(proxied, owner, tablo) == "https://xtablo.example.com"


@pytest.mark.parametrize("value", ["xtablo.example.com", "ftp://xtablo.example.com", "https://xtablo.example.com/app", "https://"])
def test_public_url_must_be_a_scheme_and_a_host(value):
    with pytest.raises(ConfigError, match="PUBLIC_URL must be like https://xtablo.example.com"):
        Config({"PUBLIC_URL": value, "SECRET_KEY": "x" * 40})
