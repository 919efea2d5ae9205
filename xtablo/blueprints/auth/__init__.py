from flask import Blueprint

bp = Blueprint("auth", __name__)

from xtablo.blueprints.auth import emails, oauth, views  # noqa: E402,F401
