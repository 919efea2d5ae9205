"""The parts of the layout that are the same on every page a reader opens, drawn once per worker.

base.html draws on every page the links to the static files, the header (the reader's name, the
sign-out form), the footer (the language form) and, until the reader's email is verified, a
banner that asks for it; a tablo's pages draw its title and tabs. Each
is the same HTML for every page of one reader in one language, but for the CSRF token of its
forms and, for the footer, the address the language form comes back to; drawing them was about a
fifth of a cached board view's CPU (bench/RESULTS.md). `layout_part` and `tablo_tabs` draw each
once per what it shows (`_KEYS`), with a mark where the token goes (xtablo/web/fragments.py), in
an LRU of their own so that these small parts never push a board's columns out. Under the debug
server they are drawn live, so that an edited template or static file shows at once.
"""

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale
from markupsafe import Markup

from xtablo.web.fragments import Fragments, with_csrf_token

MAX_PARTS = 1024


def _header_key(me, bare: bool) -> tuple:
    signed_in = not bare and me.is_authenticated
    return (bare, signed_in and (me.id, me.name, me.email), request.endpoint == "planning.index")


def _footer_key(me, bare: bool) -> tuple:
    return (request.full_path if request.query_string else request.path,)


def _banner_key(me, bare: bool) -> tuple:
    return (me.email, request.full_path if request.query_string else request.path, request.method == "GET")


# What each part shows, besides the language and the root the app is served under: its key.
_KEYS = {
    "assets": lambda me, bare: (),
    "header": _header_key,
    "footer": _footer_key,
    "verify_banner": _banner_key,
}


def init_app(app: Flask) -> None:
    app.extensions["xtablo_layout"] = Fragments(MAX_PARTS)
    app.jinja_env.globals.update(layout_part=layout_part, tablo_tabs=tablo_tabs)


def layout_part(name: str, locale: str, me, bare: bool, csrf: str = "") -> Markup:
    """templates/layout/_<name>.html for this reader (`me`, whose token is `csrf`), page and
    `locale`; `bare` on an error page, which touches no session and has no token."""
    def draw(mark: str) -> str:
        return render_template(f"layout/_{name}.html", locale=locale, me=me, bare=bare, csrf=mark)

    return _drawn_once((name, locale, *_KEYS[name](me, bare)), draw, csrf)


def tablo_tabs(tablo, active: str) -> Markup:
    """A tablo's title, its "Edit" button for owners and its tabs, `active` marked current."""
    def draw(mark: str) -> str:
        return render_template("tablos/_tabs.html", tablo=tablo, active=active)

    key = ("tabs", str(get_locale()), tablo.id, tablo.title, tablo.description, tablo.color, tablo.current_role,
           tablo.unread_messages, active)
    return _drawn_once(key, draw, "")


def _drawn_once(key: tuple, draw, csrf: str) -> Markup:
    if current_app.debug:
        return Markup(draw(csrf))
    # The root the app is served under is part of every key: it is part of the URLs drawn.
    return with_csrf_token(current_app.extensions["xtablo_layout"], (request.script_root, *key), draw, csrf)
