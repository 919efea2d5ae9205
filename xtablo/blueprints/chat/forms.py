import unicodedata
from uuid import uuid4

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, StopValidation

from xtablo.forms import Form
from xtablo.models.message import MAX_BODY_LENGTH, MAX_CLIENT_KEY_LENGTH, clean_body

NOTHING_WRITTEN = _l("Write something first.")


def something_visible(form, field) -> None:
    """Refuse a text of nothing but invisible characters (zero-width spaces, direction marks,
    control characters): it passes "required" and would show as a blank message."""
    if not any(unicodedata.category(char)[0] not in "CZ" for char in field.data or ""):
        raise StopValidation(NOTHING_WRITTEN)


def body_field():
    return TextAreaField(
        _l("Message"),
        validators=[DataRequired(message=NOTHING_WRITTEN), something_visible,
                    Length(max=MAX_BODY_LENGTH, message=_l("A message holds 4,000 characters at most: shorten it or send it in parts."))],
        # Spaces and blank lines around the text are not part of it; those inside are kept. Line
        # breaks are counted as what is stored (one LF), as a browser counts them in the box.
        filters=[lambda value: clean_body(value) if isinstance(value, str) else value],
        # No maxlength: a browser would cut a longer text pasted in without a word, and send the
        # rest; the person is told instead, and keeps the whole text to shorten.
        render_kw={"rows": 3, "data-enter-sends": "true", "dir": "auto", "maxlength": False},
        id="message-body",
    )


class MessageForm(Form):
    """Send a message. `client_key` is made when the form is drawn and sent with it, so that the
    same form posted twice (a retry, a double click) stores one message (TabloMessage.create)."""

    body = body_field()
    client_key = HiddenField(validators=[
        Optional(),
        Length(max=MAX_CLIENT_KEY_LENGTH, message=_l("This form is damaged: reload the page and send the message again.")),
        Regexp(r"^[A-Za-z0-9_-]+$", message=_l("This form is damaged: reload the page and send the message again.")),
    ], id="message-client-key")

    @classmethod
    def blank(cls) -> "MessageForm":
        """An empty form with a new key, for the next message."""
        return cls(formdata=None, client_key=uuid4().hex)

    def key(self) -> str:
        """The key the form came with; a post without one (a client that did not draw the form)
        gets a key of its own, and so no protection against being sent twice."""
        return self.client_key.data or uuid4().hex


class EditMessageForm(Form):
    body = body_field()
