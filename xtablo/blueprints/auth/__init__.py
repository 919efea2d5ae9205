from flask import Blueprint

bp = Blueprint("auth", __name__)

from xtablo.blueprints.auth import oauth, views  # noqa: E402,F401
