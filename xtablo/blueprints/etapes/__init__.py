from flask import Blueprint

bp = Blueprint("etapes", __name__)

from xtablo.blueprints.etapes import views  # noqa: E402,F401
