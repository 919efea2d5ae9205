from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, StringField
from wtforms.validators import InputRequired, NumberRange

from xtablo.blueprints.tablos.forms import description_field, title_field
from xtablo.forms import Form
from xtablo.models.etape import MAX_TITLE_LENGTH


class EtapeForm(Form):
    """Create an étape (the Étapes tab) or rename it and edit its description (its own page)."""

    title = title_field(_l("Title"), max_length=MAX_TITLE_LENGTH)
    description = description_field(_l("Description (optional)"))


class EtapeMoveForm(Form):
    """Reorder an étape: posted by the "Move up" / "Move down" buttons, by its page's form and by
    drag and drop alike."""

    position = IntegerField(
        _l("Position (1 is the first)"),
        validators=[InputRequired(message=_l("Give a position.")), NumberRange(min=1, max=100_000, message=_l("The position is a number from 1 up."))],
        render_kw={"min": 1},
        id="etape-position",
    )


class FileTaskForm(Form):
    """"Add a task to this étape", on the Étapes tab: a task of the tablo, by id. The view looks
    it up in the tablo (xtablo/access.py `find_of_tablo`): any other value is refused there."""

    task_id = StringField(_l("Task"), validators=[InputRequired(message=_l("Choose a task."))])
