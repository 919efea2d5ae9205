import unicodedata
from uuid import uuid4

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, StopValidation

from xtablo.forms import Form
from xtablo.models.message import MAX_BODY_LENGTH, MAX_CLIENT_KEY_LENGTH, clean_body

NOTHING_WRITTEN = _l("Write something first.")


# Characters that draw nothing though Unicode files them as letters or marks: Unicode's
# default-ignorable code points (Hangul fillers, variation selectors, the combining grapheme
# joiner...) and the blank Braille pattern.
INVISIBLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
             (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800),
             (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
             (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


def visible(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char)[0] not in "CZ" and not any(low <= code <= high for low, high in INVISIBLE)


def something_visible(form, field) -> None:
    """Refuse a text of nothing but invisible characters (zero-width spaces, direction marks,
    control characters, fillers): it passes "required" and would show as a blank message."""
    if not any(visible(char) for char in field.data or ""):
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
        Regexp(r"^[A-Za-z0-9_-]+\Z", message=_l("This form is damaged: reload the page and send the message again.")),
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
