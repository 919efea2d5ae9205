"""The personal planning: one agenda across every tablo a person is a member of (views.py), and
its private calendar feed for calendar apps (feed.py)."""

from flask import Blueprint

bp = Blueprint("planning", __name__)

from xtablo.blueprints.planning import feed, views  # noqa: E402,F401
