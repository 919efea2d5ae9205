from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from xtablo.forms import Form
from xtablo.i18n import LANGUAGES
from xtablo.models.user import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, User


def new_password_field(label):
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
            ),
        ],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH},
    )


def confirm_field(other: str):
    return PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo(other, message=_l("The two passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class SignupForm(Form):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)], render_kw={"autocomplete": "name"})
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254), Email(message=_l("Invalid email address."))], render_kw={"autocomplete": "email"})
    password = new_password_field(_l("Password"))
    confirm = confirm_field("password")

    def validate_email(self, field):
        if User.email_taken(field.data):
            raise ValidationError(_l("An account already uses this email. Sign in instead."))


class LoginForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)], render_kw={"autocomplete": "username"})
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class ConfirmLinkForm(Form):
    """The password of an existing account, before Google or Apple is joined to it."""

    password = PasswordField(
        _l("Password of your xtablo account"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordChangeForm(Form):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = new_password_field(_l("New password"))
    confirm = confirm_field("new_password")


class AccountForm(Form):
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice("", _l("Your browser’s language"))] + [SelectChoice(code, name) for code, name in LANGUAGES.items()],
        validate_choice=True,
    )


class LanguageForm(Form):
    """The footer's switch: a language, and the page to go back to."""

    lang = SelectField(_l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()], validators=[DataRequired()])
    next = HiddenField(validators=[Length(max=2048)])


class ForgotPasswordForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)], render_kw={"autocomplete": "email"})


class ResetPasswordForm(Form):
    new_password = new_password_field(_l("New password"))
    confirm = confirm_field("new_password")
