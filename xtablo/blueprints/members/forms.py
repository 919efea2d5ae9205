from flask_babel import lazy_gettext as _l
from wtforms import EmailField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Email, InputRequired, Length

from xtablo.forms import Form
from xtablo.models.membership import ROLE_LABELS, ROLE_ORDER


def role_field(default: str = "editor", label=_l("Role")):
    return SelectField(label, choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in ROLE_ORDER],
                       default=default, validators=[InputRequired()])


class AddMemberForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254), Email(message=_l("Invalid email address."))], render_kw={"autocomplete": "off"})
    role = role_field()


class RoleForm(Form):
    role = role_field()


LINK_LIFETIMES = {"1": _l("1 day"), "7": _l("7 days"), "30": _l("30 days")}


class InviteLinkForm(Form):
    role = role_field(default="viewer", label=_l("Joins as"))
    days = SelectField(_l("Expires after"), choices=[SelectChoice(k, v) for k, v in LINK_LIFETIMES.items()],
                       default="7", validators=[InputRequired()])
