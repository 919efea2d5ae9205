"""Two callbacks for the same new Google account at once, against the real server (gunicorn,
gevent workers; on PostgreSQL they truly interleave): one account, one identity, and both
browsers signed in to it. The unique constraints decide; the loser decides again and finds the
winner's account (xtablo/blueprints/auth/oauth.py `_sign_in`).

Not a browser test, but it needs the live server, which lives with them."""

import re
import threading

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ROUNDS = 4


class SourceAdapter(HTTPAdapter):
    """Requests from an address of their own (any 127.x.y.z reaches the server)."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = ("127.0.0.67", 0)
        super().init_poolmanager(*args, **kwargs)


def browser_at_the_provider(live_server: LiveServer, google) -> tuple[requests.Session, str]:
    """A browser that clicked "Continue with Google" and pressed Allow: its callback URL."""
    browser = requests.Session()
    browser.mount("http://", SourceAdapter())
    response = browser.get(f"{live_server.url}/auth/google/login", allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    method, url, _ = google.consent(response.headers["Location"])
    assert method == "GET" and url.startswith(live_server.url)
    return browser, url


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_callbacks_at_once_make_one_account(live_server: LiveServer, google, round_: int) -> None:
    email = f"twice{round_}-{live_server.backend}@gmail.com"
    google.sign_in_as(sub=f"g-race-{round_}-{live_server.backend}", email=email, name=f"Twice {round_}")
    browsers = [browser_at_the_provider(live_server, google) for _ in range(2)]
    start = threading.Barrier(len(browsers))
    statuses: list[tuple[int, str]] = []

    def come_back(browser: requests.Session, url: str) -> None:
        start.wait()
        response = browser.get(url, allow_redirects=False, timeout=30)
        statuses.append((response.status_code, response.headers.get("Location", "")))

    threads = [threading.Thread(target=come_back, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert statuses == [(303, "/tablos")] * 2
    for browser, _ in browsers:
        page = browser.get(f"{live_server.url}/account", timeout=10).text
        assert f'title="{email}">Twice {round_}</a>' in page  # both signed in, to that account
        assert len(re.findall(r"<strong>Google</strong> · ", page)) == 1  # which has one Google identity
