"""Which language a page speaks: the person's choice, else their browser's, else English.

- A signed-in person's choice is `users.locale`, set on the account page; it also goes into a
  cookie at sign-in and whenever it changes.
- Anyone (signed out too) can pick a language with the footer's switch: it sets the cookie.
- Without a choice, the browser's Accept-Language header decides among the languages xtablo
  speaks; a header that says nothing usable (empty, huge, malformed) means English.

The cookie is only a preference: an unknown value in it is ignored. The selector never queries
the database (error pages render while it is down): it reads the user only if the request has
already loaded them.
"""

from flask import current_app, g, request

LANGUAGES = {"en": "English", "fr": "Français"}  # each in its own language: the switch's labels
DEFAULT = "en"
COOKIE = "xtablo_lang"
COOKIE_DAYS = 365


def is_language(value) -> bool:
    return isinstance(value, str) and value in LANGUAGES


def select_locale() -> str:
    user = g.get("_login_user")
    chosen = getattr(user, "locale", None)
    if is_language(chosen):
        return chosen
    cookie = request.cookies.get(COOKIE)
    if is_language(cookie):
        return cookie
    try:
        return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT
    except Exception:  # noqa: BLE001  (a header werkzeug cannot read is no preference)
        current_app.logger.info("unreadable Accept-Language header ignored")
        return DEFAULT


def remember_language(response, language: str | None):
    """Keep the choice in the cookie (or forget it: None, the browser's language)."""
    if is_language(language):
        response.set_cookie(COOKIE, language, max_age=COOKIE_DAYS * 24 * 3600, httponly=True, samesite="Lax",
                            secure=request.is_secure)
    else:
        response.delete_cookie(COOKIE)
    return response
