from flask import Blueprint

bp = Blueprint("members", __name__)

from xtablo.blueprints.members import views  # noqa: E402,F401
