"""WTForms of the client portal; they only parse, the services decide (the second-factor form is the admin
portal's: gateway/portal/forms.py)."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class ClientLoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class InvitationForm(FlaskForm):
    password = PasswordField("Choose a password", validators=[DataRequired(), Length(min=10, max=72)])
    confirm = PasswordField("Repeat it", validators=[DataRequired(), EqualTo("password", "The two passwords differ.")])


class CallbackUrlForm(FlaskForm):
    callback_url = StringField("Callback URL", validators=[Optional(), Length(max=2000)],
                               description="Where the switch POSTs your signed payment notifications; empty: none.")
