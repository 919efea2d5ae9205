"""Parallel wrong passwords against the real server (gunicorn, gevent workers; Redis counters on
PostgreSQL, the database's on SQLite): at most the limit is ever checked, whatever arrives at once.

Not a browser test, but it needs the live server, which lives with them."""

import http.client
import re
import threading
import uuid
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PASSWORD = "correct horse battery"
ATTEMPTS = 40
# The attackers come from an address of their own (any 127.x.y.z reaches the server), so that the
# per-address limit they exhaust is not the one the other browser tests sign in from.
ATTACKER = "127.0.0.66"


class Visitor:
    """One browser: its own connection and cookies, a CSRF token from the sign-in page."""

    def __init__(self, url: str, source: str = ATTACKER):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(source, 0))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        return response.status, text

    def sign_in_form(self) -> str:
        status, page = self.request("GET", "/login")
        assert status == 200
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def sign_up(url: str, email: str) -> None:
    visitor = Visitor(url)
    _, page = visitor.request("GET", "/signup")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    status, _ = visitor.request("POST", "/signup", {"csrf_token": token, "name": "Target", "email": email,
                                                    "password": PASSWORD, "confirm": PASSWORD})
    visitor.conn.close()
    assert status == 303


def test_parallel_wrong_passwords_check_at_most_the_limit(live_server: LiveServer) -> None:
    email = f"target-{uuid.uuid4().hex[:10]}@example.com"
    sign_up(live_server.url, email)
    visitors = [Visitor(live_server.url) for _ in range(ATTEMPTS)]
    tokens = [visitor.sign_in_form() for visitor in visitors]
    barrier = threading.Barrier(ATTEMPTS)
    statuses: list[tuple[bool, int]] = []

    def attempt(index: int) -> None:
        right = index == ATTEMPTS // 2  # the right password, in the middle of the crowd
        form = {"csrf_token": tokens[index], "email": email, "password": PASSWORD if right else f"guess {index}"}
        barrier.wait(timeout=30)
        statuses.append((right, visitors[index].request("POST", "/login", form)[0]))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for visitor in visitors:
        visitor.conn.close()
    assert len(statuses) == ATTEMPTS
    assert {status for _, status in statuses} <= {303, 422, 429}
    checked = [(right, status) for right, status in statuses if status != 429]
    # The sign-in limit per (account, address) is 5: everything else was refused unchecked.
    assert 1 <= len(checked) <= 5, statuses
    assert all(status == (303 if right else 422) for right, status in checked)
    # And after the burst, the right password from this address is refused too: the limit holds.
    late = Visitor(live_server.url)
    token = late.sign_in_form()
    assert late.request("POST", "/login", {"csrf_token": token, "email": email, "password": PASSWORD})[0] == 429
    late.conn.close()
