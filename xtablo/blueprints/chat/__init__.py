from flask import Blueprint

bp = Blueprint("chat", __name__)

from xtablo.blueprints.chat import views  # noqa: E402,F401
