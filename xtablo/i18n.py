"""Which language a page speaks: the person's choice, else their browser's, else English.

- A signed-in person's choice is `users.locale`, set on the account page; it also goes into a
  cookie at sign-in and whenever it changes.
- Anyone (signed out too) can pick a language with the footer's switch: it sets the cookie.
- Without a choice, the browser's Accept-Language header decides among the languages xtablo
  speaks; a header that says nothing usable (empty, huge, malformed) means English.

The cookie is only a preference: an unknown value in it is ignored. The selector never queries
the database (error pages render while it is down): it reads the user only if the request has
already loaded them.

Templates translate through `init_app`'s functions rather than Flask-Babel's own: the same
catalogues, found once per template rather than once per string (bench/RESULTS.md).
"""

from contextlib import nullcontext

from babel import Locale
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import force_locale, get_locale, get_translations
from jinja2 import pass_context
from markupsafe import Markup

LANGUAGES = {"en": "English", "fr": "Français"}  # each in its own language: the switch's labels
DEFAULT = "en"
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}
COOKIE = "xtablo_lang"
COOKIE_DAYS = 365


def is_language(value) -> bool:
    return isinstance(value, str) and value in LANGUAGES


def select_locale() -> Locale:
    """The request's locale for Flask-Babel: the account's language, else the cookie's, else the
    browser's best match. A parsed Locale, which Flask-Babel then takes as it is (it would parse
    a code again on every request)."""
    return _LOCALES[_chosen_language()]


def _chosen_language() -> str:
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


def init_app(app: Flask) -> None:
    """Hand every template `gettext` and `ngettext` bound to the catalogue of the request's
    locale, found once per template rather than once per string.

    Flask-Babel's template callables look its context up three times per string and spell the
    locale out to find the catalogue. These are chosen when a template starts rendering (a
    context processor), so `force_locale` and `refresh` apply as before; the catalogues are
    those Flask-Babel loads, and keeps for the life of the process, itself. Macros imported
    without context (_form.html) still translate through Flask-Babel's."""
    by_locale = {}

    def translation_functions() -> dict:
        if not has_request_context():  # a template drawn by a command: as before
            return {}
        locale = get_locale()
        try:
            return by_locale[locale]
        except KeyError:
            by_locale[locale] = functions = _template_functions(get_translations())
            return functions

    app.context_processor(translation_functions)


MAX_PLAIN_STRINGS = 4096  # templates hold a few hundred; a bound all the same


def _template_functions(catalogue) -> dict:
    """gettext and ngettext on `catalogue` as Jinja's i18n extension makes them ("newstyle"):
    variables by name, and the translation escaped like the rest of the page. A string without
    variables comes out the same every time: it is finished once."""
    plain = {}

    @pass_context
    def gettext(context, string, /, **variables):
        autoescape = context.eval_ctx.autoescape
        if not variables and (finished := plain.get((string, autoescape))) is not None:
            return finished
        translated = catalogue.ugettext(string)
        if autoescape:
            translated = Markup(translated)
        translated %= variables
        if not variables and len(plain) < MAX_PLAIN_STRINGS:
            plain[string, autoescape] = translated
        return translated

    @pass_context
    def ngettext(context, singular, plural, num, /, **variables):
        variables.setdefault("num", num)
        translated = catalogue.ungettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            translated = Markup(translated)
        return translated % variables

    return {"gettext": gettext, "ngettext": ngettext}


def in_language_of(locale: str | None):
    """A mail or a calendar feed is written in the language its reader chose on the account page
    (else the language of the request that makes it)."""
    return force_locale(locale) if locale else nullcontext()
