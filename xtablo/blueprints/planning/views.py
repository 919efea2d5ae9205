"""/planning: the signed-in person's agenda across every tablo they are a member of."""

from flask import render_template
from flask_login import login_required

from xtablo.blueprints.planning import bp


@bp.get("/planning")
@login_required
def index():
    return render_template("planning/index.html")
