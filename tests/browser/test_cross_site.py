"""A post from another site neither acts nor signs the person out (issue 6, Security 6).

The session cookie is SameSite=Lax, so a form that another site posts to xtablo arrives without
it and is refused for want of a CSRF token. The refusal page once called csrf_token(), which
started a fresh anonymous session whose cookie replaced the signed-in one: any page on the web
could sign an xtablo user out. Here the attacker's page is served by a server of its own and
opened as http://localhost:<port>, while the app is at http://127.0.0.1:<port>: browsers tell
sites apart by host, so the post is truly cross-site, as it would be from evil.example.
"""

import html
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_board_flow import create_tablo, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def attacker_page(app_url: str) -> bytes:
    action = html.escape(f"{app_url}/tablos/new")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>You won</title></head>
<body>
  <form method="post" action="{action}">
    <input type="hidden" name="title" value="Forged">
    <input type="hidden" name="color" value="red">
    <button type="submit">Claim your prize</button>
  </form>
</body></html>""".encode()


@pytest.fixture
def attacker_url(live_server: LiveServer) -> Iterator[str]:
    """An attacker's page on another site (localhost, not 127.0.0.1) whose button posts a new
    tablo to the app."""
    body = attacker_page(live_server.url)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_cross_site_post_is_refused_and_does_not_sign_the_user_out(page: Page, live_server: LiveServer, attacker_url: str) -> None:
    assert live_server.url.startswith("http://127.0.0.1:")
    sign_up(page, "Ada")
    create_tablo(page, "Mine")

    page.goto(attacker_url)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url == f"{live_server.url}/tablos/new") as response:
        page.get_by_role("button", name="Claim your prize").click()
    refused = response.value
    assert refused.status == 400
    # The browser did take it as cross-site: the post came without the session cookie.
    assert "xtablo_session" not in (refused.request.header_value("cookie") or "")
    expect(page.get_by_role("heading", name="Form expired")).to_be_visible()

    page.goto("/tablos")
    expect(page).to_have_url(re.compile(r"/tablos$"))
    expect(page.get_by_role("heading", name="My tablos")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator(".tablo-card")).to_have_count(1)
    expect(page.locator(".tablo-card").filter(has_text="Mine")).to_have_count(1)
    expect(page.locator(".tablo-card").filter(has_text="Forged")).to_have_count(0)
