"""The base of every form: what a form accepts from a request, decided once for all of them."""

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

NUL_MESSAGE = _l("This text contains an invisible NUL character, which cannot be saved. Retype it.")
FILE_MESSAGE = _l("This field takes text, not a file.")


class Form(FlaskForm):
    """A FlaskForm that reads only the request's text fields and refuses NUL characters.

    - A file posted in place of a text field (a multipart upload) is an error on that field, and
      never reaches the field as a value (a `FileStorage` has no `.strip()`); a JSON body is not
      read at all.
    - A NUL character (U+0000) in any field is an error on that field: PostgreSQL cannot store it,
      and no person types it.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            wrapped = super().wrap_formdata(form, formdata)
            if wrapped is not None and wrapped is not formdata:  # read from the request itself
                return request.form
            return wrapped

    def validate(self, extra_validators=None) -> bool:
        """WTForms' own loop (each field with its inline `validate_<name>`), except that a field
        holding a file or a NUL character gets its error and runs no validator: an inline one
        may query the database with the value."""
        extra = {name: list(validators) for name, validators in (extra_validators or {}).items()}
        for name in self._fields:
            inline = getattr(self.__class__, f"validate_{name}", None)
            if inline is not None:
                extra.setdefault(name, []).append(inline)
        self._errors = None
        files = request.files if self.is_submitted() else {}
        valid = True
        for name, field in self._fields.items():
            if field.name in files:
                field.errors = [str(FILE_MESSAGE)]
            elif any(isinstance(value, str) and "\x00" in value for value in field.raw_data or ()):
                field.errors = [str(NUL_MESSAGE)]
            elif field.validate(self, extra.get(name, ())):
                continue
            valid = False
        return valid
