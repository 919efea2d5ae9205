from flask import Blueprint
from flask_login import current_user

bp = Blueprint("auth", __name__)


@bp.before_request
def load_the_signed_in_user():
    """Pages open to everyone here (the links mailed to a person, the sign-in pages) are drawn
    in the language a signed-in person chose: the locale is chosen at the first translated word
    (xtablo/i18n.py), so the user is loaded before it, not later by the header."""
    current_user.is_authenticated  # noqa: B018


from xtablo.blueprints.auth import emails, oauth, views  # noqa: E402,F401
