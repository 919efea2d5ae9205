from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from xtablo.forms import Form
from xtablo.models import COLORS, Status
from xtablo.models.task import STATUS_LABELS

COLOR_LABELS = {
    "slate": _l("Slate"), "blue": _l("Blue"), "green": _l("Green"), "yellow": _l("Yellow"),
    "orange": _l("Orange"), "red": _l("Red"), "purple": _l("Purple"), "pink": _l("Pink"),
}
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000


def title_field(label, max_length=TITLE_MAX):
    return StringField(
        label,
        validators=[DataRequired(message=_l("Give it a title.")), Length(max=max_length, message=_l("Keep the title under %(max)d characters.", max=max_length))],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"maxlength": max_length},
    )


def description_field(label):
    return TextAreaField(label, validators=[Optional(), Length(max=DESCRIPTION_MAX)], render_kw={"rows": 3})


def status_field(**kwargs):
    return SelectField(_l("Column"), choices=[SelectChoice(s.value, STATUS_LABELS[s]) for s in Status],
                       validators=[InputRequired()], default=Status.TODO.value, **kwargs)


class EtapeField(SelectField):
    """"Étape": one of the tablo's étapes, or none. The view gives the choices (`offer`); a value
    that is not among them (another tablo's étape, a deleted one, not a number) is refused with a
    sentence, before anything is written. `etape_id` is the choice as an id, or None."""

    def __init__(self, label=_l("Étape"), **kwargs):
        super().__init__(label, choices=[], default="", **kwargs)

    def offer(self, etapes) -> "EtapeField":
        """Offer the tablo's étapes, (id, title) pairs in order."""
        self.choices = [SelectChoice("", _l("No étape"))] + [SelectChoice(str(etape_id), title) for etape_id, title in etapes]
        return self

    def process_data(self, value):
        self.data = "" if value is None else str(value)

    def pre_validate(self, form):
        if self.data not in {choice.value for choice in self.choices}:
            raise ValidationError(_l("Choose one of this tablo's étapes, or none."))

    @property
    def etape_id(self) -> int | None:
        return int(self.data) if self.data else None


class TabloForm(Form):
    title = title_field(_l("Title"))
    description = description_field(_l("Description (optional)"))
    color = RadioField(_l("Colour"), choices=[SelectChoice(c, COLOR_LABELS[c]) for c in COLORS], default="blue", validators=[InputRequired()])


class EditTaskForm(Form):
    """The task page's form; the column and position are the "Move to…" form's (MoveForm)."""

    title = title_field(_l("Task"))
    description = description_field(_l("Notes (optional)"))
    due_date = DateField(_l("Due date (optional)"), validators=[Optional()])
    etape_id = EtapeField()


class TaskForm(EditTaskForm):
    """"Add a task", on the board: also the column it starts in."""

    status = status_field()


class MoveForm(Form):
    """Posted by the task page's form and by drag and drop alike (fields `status`, `position`).
    Its ids differ from the edit form's, which shares the task page."""

    status = status_field(id="move-status")
    position = IntegerField(
        _l("Position (1 is the top)"),
        validators=[InputRequired(message=_l("Give a position.")), NumberRange(min=1, max=100_000, message=_l("The position is a number from 1 up."))],
        default=1,
        render_kw={"min": 1},
        id="move-position",
    )
    # The cards it was dropped between, sent by drag and drop (xtablo/static/js/app.js): on a
    # board filtered by étape, the position counts only the cards shown (Task.move).
    before = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**31 - 1)], widget=HiddenField.widget)
    after = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**31 - 1)], widget=HiddenField.widget)


class ConfirmForm(Form):
    """A button that only carries the CSRF token (deletes, sign-out)."""
