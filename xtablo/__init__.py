"""xtablo: a collaborative project workspace for small teams."""

from flask import Flask, render_template
from flask.globals import request_ctx
from flask_login import current_user
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import OperationalError
from werkzeug.routing import IntegerConverter

from xtablo import database  # noqa: F401  (registers the SQLite connection rules)
from xtablo.config import Config
from xtablo.extensions import babel, csrf, db, login_manager, migrate


class IdConverter(IntegerConverter):
    """A database id: a positive integer that fits PostgreSQL's `integer`, written without
    leading zeros (one address per page: `/tablos/01` is not `/tablos/1`), else a 404."""

    regex = r"[1-9]\d*"

    def __init__(self, map):
        super().__init__(map, min=1, max=2**31 - 1)


def create_app(config: Config | None = None) -> Flask:
    from xtablo.web.urls import XtabloFlask

    app = XtabloFlask(__name__, instance_relative_config=False)
    app.config.from_object(config or Config())
    app.url_map.converters["id"] = IdConverter

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    from xtablo import i18n
    from xtablo.i18n import LANGUAGES, select_locale

    babel.init_app(app, locale_selector=select_locale)
    i18n.init_app(app)
    from xtablo import ratelimit  # noqa: F401  (registers the database storage scheme)
    from xtablo.blueprints.auth import throttle

    throttle.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # the sessions table is the authority, not the IP
    from xtablo import sessions  # noqa: F401  (registers the user loader)

    # Flask-Login's context processor loads the user (a query) for every template; ours hands
    # templates the lazy proxy, so a page that does not show the user (an error page while the
    # database is down) never loads it.
    processors = app.template_context_processors[None]
    processors[:] = [p for p in processors if p.__name__ != "_user_context_processor"]
    app.context_processor(lambda: {"current_user": current_user})

    from xtablo import identity
    from xtablo.web import assets, layout, security

    identity.init_app(app)

    security.init_app(app)
    assets.init_app(app)
    layout.init_app(app)

    from xtablo.blueprints.auth import bp as auth_bp
    from xtablo.blueprints.chat import bp as chat_bp
    from xtablo.blueprints.etapes import bp as etapes_bp
    from xtablo.blueprints.events import bp as events_bp
    from xtablo.blueprints.members import bp as members_bp
    from xtablo.blueprints.planning import bp as planning_bp
    from xtablo.blueprints.tablos import bp as tablos_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(tablos_bp)
    app.register_blueprint(etapes_bp)
    app.register_blueprint(events_bp)
    app.register_blueprint(chat_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(planning_bp)

    from xtablo import realtime
    from xtablo.blueprints.chat.stream import ChatChanges
    from xtablo.models.message import changes_committed

    realtime.init_app(app, ChatChanges(), changes_committed)

    from xtablo import cli

    cli.init_app(app)
    register_error_handlers(app)

    from flask_babel import get_locale

    from xtablo.models import Role

    app.jinja_env.globals.update(get_locale=get_locale, Role=Role, LANGUAGES=LANGUAGES)

    @app.get("/healthz")
    def healthz():
        """A liveness probe that touches nothing: the benchmark's trivial endpoint."""
        return {"status": "ok"}

    return app


def register_error_handlers(app: Flask) -> None:
    """Error pages in the app's own layout that touch neither the database nor the session: they
    still render when the database is down, and a refused cross-site post (whose request came
    without the session cookie) does not answer with a fresh cookie that would replace the
    visitor's signed-in one."""

    def error_page(status: int, title: str, message: str):
        if request_ctx.url_adapter is None:
            # The request's Host could not even be parsed: no URL can be built for the layout.
            return f"<!doctype html>\n<title>{escape(title)}</title>\n<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>\n", status
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_page(400, _("Form expired"), _("This form has expired or was sent from elsewhere. Reload the page and try again."))

    @app.errorhandler(400)
    def bad_request(error):
        return error_page(400, _("Bad request"), _("The request could not be understood."))

    @app.errorhandler(403)
    def forbidden(error):
        return error_page(403, _("Not allowed"), error.description if isinstance(error.description, str) and error.description != error.__class__.description else _("You are not allowed to do that."))

    @app.errorhandler(404)
    def not_found(error):
        return error_page(404, _("Not found"), _("There is nothing here, or you do not have access to it."))

    @app.errorhandler(405)
    def method_not_allowed(error):
        return error_page(405, _("Not allowed"), _("This address does not accept that kind of request."))

    @app.errorhandler(413)
    def too_large(error):
        return error_page(413, _("Too large"), _("What you sent is too large."))

    @app.errorhandler(429)
    def too_many(error):
        return error_page(429, _("Too many requests"), _("Wait a minute, then try again."))

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        app.logger.warning("database unavailable: %s", error.orig if error.orig is not None else error)
        _forget_transaction()
        return error_page(503, _("Try again in a minute"), _("xtablo cannot reach its database right now, or it is too busy to answer. Nothing was changed; please try again in a minute."))

    @app.errorhandler(500)
    def internal_error(error):
        _forget_transaction()
        return error_page(500, _("Something went wrong"), _("The error was logged. Please try again."))


def _forget_transaction() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the pool will replace it  # noqa: BLE001
        db.session.close()
