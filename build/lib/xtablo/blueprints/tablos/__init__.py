from flask import Blueprint

bp = Blueprint("tablos", __name__)

from xtablo.blueprints.tablos import views  # noqa: E402,F401
