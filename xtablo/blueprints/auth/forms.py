from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import EmailField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from xtablo import timezones
from xtablo.forms import Form
from xtablo.i18n import LANGUAGES
from xtablo.models.user import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, User, normalize_email


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


def name_field():
    return StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)], render_kw={"autocomplete": "name"})


def email_field(label):
    return EmailField(label, validators=[DataRequired(), Length(max=254), Email(message=_l("Invalid email address."))], render_kw={"autocomplete": "email"})


def current_password_field():
    return PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class SignupForm(Form):
    name = name_field()
    email = email_field(_l("Email"))
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


class LinkIdentityForm(Form):
    """Before Google or Apple joins the signed-in account: its password, so that a stolen session
    cannot add a way in that outlives it (an account without a password has none to give)."""

    password = PasswordField(
        _l("Your xtablo password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordChangeForm(Form):
    current_password = current_password_field()
    new_password = new_password_field(_l("New password"))
    confirm = confirm_field("new_password")


class SendPasswordLinkForm(Form):
    """"Email me a link to set a password", for an account that signs in with Google or Apple
    only: the password itself is chosen through the mailed link."""


class AccountForm(Form):
    name = name_field()
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice("", _l("Your browser’s language"))] + [SelectChoice(code, name) for code, name in LANGUAGES.items()],
        validate_choice=True,
    )
    time_zone = SelectField(_l("Time zone"), choices=timezones.names(), validate_choice=False, default=timezones.DEFAULT)

    def validate_time_zone(self, field):
        if not timezones.is_zone(field.data):
            raise ValidationError(_l("Choose a time zone from the list."))


class EmailChangeForm(Form):
    """A new email, taking effect once the link mailed to it is confirmed. The current password
    keeps a stolen session from moving the account to an address its thief reads (build the form
    with `email_change_form`: an account without a password has none to give)."""

    new_email = email_field(_l("New email"))
    current_password = current_password_field()

    def validate_new_email(self, field):
        if normalize_email(field.data) == current_user.email:
            raise ValidationError(_l("This is already your email."))
        if User.email_taken(field.data):
            raise ValidationError(_l("An account already uses this email."))


# The email form shares the account page with the settings form: a prefix keeps ids unique.
EMAIL_PREFIX = "email"


def email_change_form(user, **kwargs) -> EmailChangeForm:
    form = EmailChangeForm(prefix=EMAIL_PREFIX, **kwargs)
    if not user.has_password:
        del form.current_password
    return form


class ResendVerificationForm(Form):
    """The banner’s “Send the link again”: only the page to come back to."""

    next = HiddenField(validators=[Length(max=2048)])


class LanguageForm(Form):
    """The footer's switch: a language, and the page to go back to."""

    lang = SelectField(_l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()], validators=[DataRequired()])
    next = HiddenField(validators=[Length(max=2048)])


class ForgotPasswordForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)], render_kw={"autocomplete": "email"})


class ResetPasswordForm(Form):
    new_password = new_password_field(_l("New password"))
    confirm = confirm_field("new_password")
