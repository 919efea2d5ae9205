"""Response headers and cookie rules that every page gets, and which proxy headers to believe.

Behind PROXY_FIX_HOPS reverse proxies, X-Forwarded-For and X-Forwarded-Proto are believed (the
client's address for the sign-in limits and sessions, HTTPS for Secure cookies). X-Forwarded-Host
never is: a client can send it through a proxy that does not overwrite it, and it would change the
absolute links the app shows (an invitation link). Those links use PUBLIC_URL when it is set, else
the Host the request came to.
"""

from flask import Flask, current_app, request, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: htmx is configured through a <meta> tag and the board's
# colours are CSS classes.
def content_security_policy(form_action: tuple[str, ...] = ()) -> str:
    """The policy; `form_action` adds origins a form of the page may end up at (a form whose
    answer redirects to Google or Apple: browsers check form-action on every redirect)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            " ".join(["form-action 'self'", *form_action]),
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()

# Every response gets these, unless its view set one of them itself.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


class SessionInterface(SecureCookieSessionInterface):
    """Mark the cookie Secure whenever the request came over HTTPS (directly or via ProxyFix);
    leave static files alone."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def save_session(self, app: Flask, session, response) -> None:
        # Static files are the same for everyone and cached for a year: no session cookie, and
        # no "Vary: Cookie" (which Flask adds once anything looked at the session) that would
        # make browsers fetch them again after every sign-in.
        if request.endpoint == "static":
            return
        super().save_session(app, session, response)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL to show people (a link to copy and send): on PUBLIC_URL when set."""
    public_url = current_app.config["PUBLIC_URL"]
    if public_url:
        return public_url + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        # Each header unless the view set its own: one look at the headers rather than a
        # setdefault (two scans of them) per header.
        present = {name.lower() for name, _ in headers.items()}
        headers.extend([(name, value) for name, value in SECURITY_HEADERS if name.lower() not in present])
        if request.is_secure and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", "max-age=31536000")
        if response.mimetype == "text/html" and "cache-control" not in present:
            # Pages show private data: never cache them in shared caches, nor let the back
            # button show a page of a signed-out session.
            headers.add("Cache-Control", "no-store")
        return response
