"""WTForms of the portal; they only parse. The service layer validates and decides."""

import json

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from gateway.admin.onboarding import DEFAULT_TEMPLATE
from gateway.admin.roles import ROLE_DESCRIPTIONS, ROLES
from gateway.hot_path.fields import FIELD_TYPES, SERVICE_CODES
from gateway.hot_path.settlement import STATES

METHODS = ("POST", "GET", "PUT", "PATCH", "DELETE")
STATUSES = ("", *STATES)


class ActionForm(FlaskForm):
    """A button that changes state: just the CSRF token."""


class ResolutionForm(FlaskForm):
    """A proposal to settle an UNKNOWN or overdue PENDING payment by hand."""

    status = SelectField("Final state", choices=["SUCCESS", "FAILED"])
    reason = StringField("Reason", validators=[DataRequired(), Length(min=3, max=500)])
    provider_ref = StringField("Provider's reference", validators=[Optional(), Length(max=200)])


class StatementForm(FlaskForm):
    """A provider's statement to reconcile."""

    microservice = SelectField("Provider (microservice)", choices=[])
    statement = FileField("Statement (CSV)", validators=[FileRequired()])
    date_from = StringField("From", validators=[Optional(), Length(max=10)])
    date_to = StringField("To (included)", validators=[Optional(), Length(max=10)])


class StatementMappingForm(FlaskForm):
    """Which statement columns hold what, the key the reference matches, and the provider's status words."""

    reference = StringField("Reference column", validators=[DataRequired(), Length(max=100)])
    amount = StringField("Amount column", validators=[DataRequired(), Length(max=100)])
    currency = StringField("Currency column", validators=[Optional(), Length(max=100)])
    status = StringField("Status column", validators=[DataRequired(), Length(max=100)])
    time = StringField("Date or time column", validators=[Optional(), Length(max=100)])
    match_on = SelectField("The reference is", choices=[("ref", "our transaction reference"),
                                                        ("provider_ref", "the provider's reference"),
                                                        ("unique_id", "the client's f010")])
    statuses = TextAreaField("Status words", validators=[Optional(), Length(max=2000)],
                             description="One per line, WORD=SUCCESS|FAILED|PENDING, e.g. PAID=SUCCESS.")

    @staticmethod
    def initial(mapping):
        """Form data from a stored mapping."""
        return {**mapping["columns"], "match_on": mapping["match_on"],
                "statuses": "\n".join(f"{k}={v}" for k, v in mapping["statuses"].items())}

    def payload(self):
        """The mapping as the service takes it (a malformed status line is left for the service to refuse)."""
        names = ("reference", "amount", "currency", "status", "time")
        columns = {name: getattr(self, name).data.strip() for name in names if (getattr(self, name).data or "").strip()}
        words = [line.split("=", 1) for line in (self.statuses.data or "").splitlines() if line.strip()]
        statuses = {w[0].strip(): (w[1].strip().upper() if len(w) == 2 else "") for w in words}
        return {"columns": columns, "match_on": self.match_on.data, "statuses": statuses}


class AlertRuleForm(FlaskForm):
    """An alert rule: its kind's parameters as JSON (the service checks them, naming each problem)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    kind = SelectField("Kind", choices=["success_rate", "unknown_age", "circuit_open", "latency_p99",
                                        "dead_callbacks", "reconciliation", "default_partition"])
    params = TextAreaField("Parameters (JSON)", validators=[DataRequired(), Length(max=2000)],
                           default='{"scope": "client", "threshold_percent": 90, "minutes": 15, "min_count": 20}')
    webhook_url = StringField("Webhook URL", validators=[Optional(), Length(max=2000)])
    emails = StringField("E-mail addresses", validators=[Optional(), Length(max=2000)],
                         description="Comma-separated; e-mail needs MOSPAY_SMTP_HOST.")

    def payload(self):
        """The rule as the service takes it; ``ValueError`` when the parameters are not a JSON object."""
        params = json.loads(self.params.data or "{}")
        if not isinstance(params, dict):
            raise ValueError("params must be a JSON object")
        emails = [e.strip() for e in (self.emails.data or "").split(",") if e.strip()]
        return {"name": self.name.data, "kind": self.kind.data, "params": params,
                "webhook_url": (self.webhook_url.data or "").strip() or None, **({"emails": emails} if emails else {})}


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class SecondFactorForm(FlaskForm):
    code = StringField("Code from your authenticator app (or a recovery code)",
                       validators=[DataRequired(), Length(max=32)], render_kw={"autocomplete": "one-time-code"})


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=72)])
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("new_password", "The two passwords differ.")])


class ClientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    app_id = StringField("App-ID", validators=[Optional(), Length(max=40)],
                         description="Lowercase letters, digits and _; derived from the name when empty.")
    callback_url = StringField("Callback URL", validators=[Optional(), Length(max=2000)])

    def payload(self):
        """The admin-API shaped body."""
        body = {"name": self.name.data}
        if self.app_id.data:
            body["app_id"] = self.app_id.data.strip()
        if self.callback_url.data:
            body["callback_url"] = self.callback_url.data.strip()
        return body


class AssignForm(FlaskForm):
    service = SelectField("Service", choices=[], validate_choice=False)

    def payload(self):
        """``{"microservice", "service", "route"}`` from the ``a/b/c`` choice."""
        parts = (self.service.data or "").split("/")
        return dict(zip(("microservice", "service", "route"), parts, strict=False))


class FieldRowForm(Form):
    """One of f004–f009; unused rows are left out of the definition. The service layer checks the values."""

    code = HiddenField()
    use = BooleanField("Use")
    name = StringField("Name")
    type = SelectField("Type", choices=FIELD_TYPES, default="string", validate_choice=False)
    required = BooleanField("Required")
    pattern = StringField("Pattern")
    min = StringField("Min")
    max = StringField("Max")
    values = StringField("Enum values", description="Comma-separated, for type enum")

    def definition(self):
        """The field definition the service layer takes."""
        field = {"code": self.code.data, "name": (self.name.data or "").strip() or self.code.data,
                 "type": self.type.data, "required": bool(self.required.data)}
        for key in ("pattern", "min", "max"):
            if getattr(self, key).data:
                field[key] = getattr(self, key).data.strip()
        if self.type.data == "enum":
            field["values"] = [v.strip() for v in (self.values.data or "").split(",") if v.strip()]
        return field


class ServiceForm(FlaskForm):
    """No validators of its own: the service layer's one check names every problem at once."""

    microservice = StringField("Microservice (f000)")
    service = StringField("Service (f001)")
    route = StringField("Route (f002)")
    url = StringField("Downstream URL")
    method = SelectField("Method", choices=METHODS, default="POST", validate_choice=False)
    timeout_ms = StringField("Timeout (ms)", default="10000")
    template = SelectField("Function template", choices=[], default=DEFAULT_TEMPLATE, validate_choice=False)
    fields = FieldList(FormField(FieldRowForm), min_entries=len(SERVICE_CODES), max_entries=len(SERVICE_CODES))

    def fill_fields(self, definitions):
        """Show ``definitions`` in the six rows (on GET)."""
        by_code = {d["code"]: d for d in definitions or ()}
        for entry, code in zip(self.fields, SERVICE_CODES, strict=True):
            row = entry.form
            row.code.data = code
            definition = by_code.get(code)
            if definition:
                row.use.data, row.name.data = True, definition.get("name")
                row.type.data, row.required.data = definition.get("type", "string"), definition.get("required")
                for key in ("pattern", "min", "max"):
                    getattr(row, key).data = str(definition[key]) if key in definition else ""
                row.values.data = ", ".join(definition.get("values", []))

    def field_definitions(self):
        """``(definitions, row index of each)`` for the rows in use."""
        rows = [(i, entry.form) for i, entry in enumerate(self.fields) if entry.form.use.data]
        for i, form in rows:
            # The code is the row's (its index in the posted names), whatever the hidden input says.
            index = int(self.fields[i].name.rsplit("-", 1)[1])
            form.code.data = SERVICE_CODES[index] if index < len(SERVICE_CODES) else None
        return [form.definition() for _, form in rows], [i for i, _ in rows]

    def payload(self, with_key=True):
        """The admin-API shaped body; ``with_key=False`` for an edit (the key does not change)."""
        definitions, _ = self.field_definitions()
        timeout = (self.timeout_ms.data or "").strip()
        if timeout.isdigit() and len(timeout) < 10:
            timeout = int(timeout)  # anything else goes as typed: the service layer names it
        body = {"url": (self.url.data or "").strip(), "method": self.method.data, "template": self.template.data,
                "fields": definitions, "timeout_ms": timeout}
        if with_key:
            body.update({key: (getattr(self, key).data or "").strip() for key in ("microservice", "service", "route")})
        # An empty input is a missing value: "is required", or the default when there is one.
        return {key: value for key, value in body.items() if value != "" or key == "fields"}


class InviteForm(FlaskForm):
    """An admin invites someone of a client app to the client portal."""

    email = StringField("E-mail of the person to invite", validators=[DataRequired(), Length(max=254)])


class UserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    role = SelectField("Role", choices=ROLES, validate_choice=False,
                       description=" · ".join(f"{role}: {ROLE_DESCRIPTIONS[role]}" for role in ROLES))
    password = PasswordField("First password", validators=[DataRequired(), Length(min=10, max=72)],
                             description="The user must change it at first sign-in.")


class FunctionEditForm(FlaskForm):
    source = TextAreaField("Source", validators=[DataRequired()])
    note = StringField("What changed", validators=[Optional(), Length(max=200)])


class RollbackForm(FlaskForm):
    version = IntegerField("Version", validators=[DataRequired()])


class RegenerateForm(FlaskForm):
    force = HiddenField(default="")


class TestRunForm(FlaskForm):
    request_json = TextAreaField("Request (f000–f010)", validators=[DataRequired()])
    response_json = TextAreaField("Downstream answer", validators=[Optional()])

    def parsed(self, name):
        """The JSON of ``name``, or ``None`` with the field's error set."""
        field = getattr(self, name)
        try:
            return json.loads(field.data) if field.data else None
        except ValueError as problem:
            field.errors = [*field.errors, f"Not valid JSON: {problem}"]
            return None


def apply_error(form, error):
    """Show a service-layer ``MosPayError`` on ``form``: its details on the matching fields."""
    unplaced = []
    for key, message in (error.details or {}).items() if isinstance(error.details, dict) else ():
        field = getattr(form, str(key), None) if str(key).isidentifier() else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, str(message)]
        else:
            unplaced.append(f"{key}: {message}")
    form.form_errors.extend([error.message, *unplaced])


class IntegrationForm(FlaskForm):
    """A new integration on one page: the client, and an existing service or a template for a new one."""

    name = StringField("Client name", validators=[DataRequired(), Length(max=200)])
    callback_url = StringField("Callback URL (optional)", validators=[Optional(), Length(max=2000)])
    provider = SelectField("Provider", choices=[], validate_choice=False,
                           description="An existing service, or a function template for a new one.")
    url = StringField("Provider base URL (new service)", validators=[Optional(), Length(max=2000)])
    microservice = StringField("Provider name, f000 (new service)", validators=[Optional(), Length(max=40)])

    def payload(self):
        """What ``integrations.create`` takes."""
        body = {"name": (self.name.data or "").strip(), "callback_url": (self.callback_url.data or "").strip()}
        kind, _, value = (self.provider.data or "").partition(":")
        if kind == "template":
            body.update(template=value, url=(self.url.data or "").strip(),
                        microservice=(self.microservice.data or "").strip())
        elif kind == "service":
            body["service"] = value
        return body


class RouteYamlForm(FlaskForm):
    """One route's YAML, edited as its file would be (routing rules, retry, status query, fields...)."""

    document = TextAreaField("Route YAML", validators=[DataRequired(), Length(max=100_000)])
