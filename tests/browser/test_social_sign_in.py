"""Continue with Google / Apple in a real browser against the live server and the test process's
providers (tests/oidc_provider.py). Apple's provider is served at `localhost` and the app at
127.0.0.1, so its form_post is a real cross-site POST: chromium sends it without the app's
SameSite=Lax session cookie, and the app's relay page posts it again from the site."""

import re

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_accessibility import SCHEMES, Axe
from tests.browser.test_invitation_link import access_log_lines
from tests.browser.test_board_flow import PASSWORD, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def callback_posts(page: Page) -> list[Request]:
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" and "/auth/apple/callback" in request.url else None)
    return posts


def test_continue_with_google_end_to_end(page: Page, google, live_server: LiveServer) -> None:
    google.sign_in_as(sub="g-browser", email="grace@gmail.com", name="Grace Hopper")
    page.goto("/login?next=/tablos/new")
    page.get_by_role("link", name="Continue with Google").click()
    expect(page.get_by_text("Sign in to xtablo as Grace Hopper")).to_be_visible()
    page.get_by_role("button", name="Allow").click()
    expect(page).to_have_url(re.compile(r"/tablos/new$"))
    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
    # Google's code came back in the address; the access log keeps the visit, not the code.
    log = access_log_lines(live_server, containing=["/auth/google/callback"])
    codes = re.findall(r"\bcode=([^&\s\"]+)", log)
    assert codes and set(codes) == {"[redacted]"}, codes


def test_cancelling_at_google_comes_back_with_a_sentence(page: Page, google) -> None:
    google.sign_in_as(sub="g-browser", email="grace@gmail.com", name="Grace Hopper")
    page.goto("/login")
    page.get_by_role("link", name="Continue with Google").click()
    page.get_by_role("button", name="Deny").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("You cancelled signing in with Google.")).to_be_visible()


def test_continue_with_apple_crosses_sites_for_real(page: Page, apple) -> None:
    apple.sign_in_as(sub="000111.browser", email="k3j@privaterelay.appleid.com", given_name="Katherine", family_name="Johnson")
    posts = callback_posts(page)
    page.goto("/login")
    assert page.context.cookies()  # the sign-in page's session cookie exists...
    page.get_by_role("link", name="Continue with Apple").click()
    expect(page).to_have_url(re.compile(r"^http://localhost:\d+/authorize"))
    page.get_by_role("button", name="Allow").click()
    expect(page).to_have_url(re.compile(r"/tablos$"))
    expect(page.get_by_role("link", name="Katherine Johnson")).to_be_visible()
    # ...but Apple's cross-site POST went without it, and the relay's same-site POST carried it.
    assert len(posts) == 2
    first, second = (post.all_headers().get("cookie", "") for post in posts)
    assert "xtablo_session=" not in first
    assert "xtablo_session=" in second


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])
def test_apple_without_javascript(page: Page, apple) -> None:
    apple.sign_in_as(sub="000222.nojs", email="dorothy@icloud.com", given_name="Dorothy", family_name="Vaughan")
    page.goto("/login")
    page.get_by_role("link", name="Continue with Apple").click()
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("button", name="Continue").click()  # the provider's own page, without script
    expect(page.get_by_role("heading", name="Signing in with Apple")).to_be_visible()
    page.get_by_role("button", name="Continue").click()  # the app's relay page
    expect(page).to_have_url(re.compile(r"/tablos$"))
    expect(page.get_by_role("link", name="Dorothy Vaughan")).to_be_visible()


@pytest.mark.parametrize("context_options", SCHEMES)
def test_the_sign_in_pages_of_google_and_apple_have_no_axe_violations(page: Page, context_options: dict, google, apple) -> None:
    """The link confirmation, Apple's relay page (met without JavaScript) and the account page
    with a linked Google account, in both themes."""
    axe = Axe()
    email = sign_up(page, "Lin")  # a password account, its email not verified
    page.get_by_role("button", name="Sign out").click()
    google.sign_in_as(sub=f"g-axe-{context_options['color_scheme']}", email=email, name="Lin")
    page.get_by_role("link", name="Continue with Google").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Link Google to your account")).to_be_visible()
    axe.check(page, "link confirmation")
    page.get_by_label("Password of your xtablo account").fill("not the password")
    page.get_by_role("button", name="Link and sign in").click()
    expect(page.locator(".error").first).to_be_visible()
    axe.check(page, "link confirmation, with an error")
    page.get_by_label("Password of your xtablo account").fill(PASSWORD)
    page.get_by_role("button", name="Link and sign in").click()
    expect(page).to_have_url(re.compile(r"/tablos$"))
    page.goto("/account")
    expect(page.get_by_role("button", name="Unlink Google")).to_be_visible()
    axe.check(page, "account, with Google linked")
    assert axe.violations == {}, f"axe found in the {context_options['color_scheme']} theme:\n{axe.report()}"


@pytest.mark.parametrize("context_options", [{"bypass_csp": True, "java_script_enabled": False}])
def test_apples_relay_page_has_no_axe_violations(page: Page, browser, live_server, apple) -> None:
    apple.sign_in_as(sub="000333.axe", email="axe@icloud.com", given_name="Axe")
    page.goto("/login")
    page.get_by_role("link", name="Continue with Apple").click()
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Signing in with Apple")).to_be_visible()
    # axe needs script: read the relay page again in a context that runs it, from the same HTML.
    html = page.content()
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    try:
        checker = context.new_page()
        checker.route("**/relay-copy", lambda route: route.fulfill(body=html.replace("data-autosubmit", ""), content_type="text/html"))
        checker.goto("/relay-copy")
        axe = Axe()
        axe.check(checker, "Apple's relay page")
        assert axe.violations == {}, axe.report()
    finally:
        context.close()
