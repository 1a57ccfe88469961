"""The API description: ``/api/v1/openapi.json``, interactive docs at ``/docs``, and CLI commands.

Swagger UI's files come from an installed package (``flask-openapi3-swagger``
ships Swagger UI 5, which reads OpenAPI 3.1); nothing is loaded from a CDN.
The page has no inline script, so it works under the portal's strict
Content-Security-Policy: ``static/swagger/docs.js`` starts Swagger UI.
"""

import importlib.util
import json
from pathlib import Path

import click
from flask import Blueprint, Response, send_from_directory, url_for
from flask.cli import AppGroup

from gateway.api import json_response
from gateway.errors import NotFound
from gateway.openapi.spec import build_spec

SWAGGER_PACKAGE = "flask_openapi3_swagger"
bp = Blueprint("openapi", __name__)
cli = AppGroup("openapi", help="The OpenAPI description and what is generated from it.")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MosPay API</title>
<link rel="icon" href="{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
<link rel="stylesheet" href="{own_css}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{preset}"></script>
<script src="{own_js}"></script>
</body>
</html>
"""


def swagger_ui_dir():
    """Swagger UI's static files in the installed package, or ``None`` when it is missing."""
    spec = importlib.util.find_spec(SWAGGER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "templates" / "swagger"
    return folder if folder.is_dir() else None


@bp.get("/api/v1/openapi.json")
def openapi_json():
    """This switch's OpenAPI 3.1 description."""
    return json_response(build_spec())


@bp.get("/docs")
def docs():
    """Swagger UI on the description, from locally installed files."""
    assets = {name: url_for("openapi.swagger_asset", filename=path) for name, path in (
        ("css", "css/swagger-ui.css"), ("bundle", "js/swagger-ui-bundle.js"),
        ("preset", "js/swagger-ui-standalone-preset.js"), ("icon", "images/swagger.svg"))}
    page = PAGE.format(spec=url_for("openapi.openapi_json"), own_css=url_for("static", filename="swagger/docs.css"),
                       own_js=url_for("static", filename="swagger/docs.js"), **assets)
    return Response(page, mimetype="text/html")


@bp.get("/docs/swagger-ui/<path:filename>")
def swagger_asset(filename):
    """One of Swagger UI's files."""
    folder = swagger_ui_dir()
    if folder is None:
        raise NotFound("Swagger UI is not installed: pip install -r requirements.txt.")
    return send_from_directory(folder, filename, max_age=86400)


@cli.command("spec")
def print_spec():
    """Print the OpenAPI document (JSON)."""
    click.echo(json.dumps(build_spec(), indent=2, ensure_ascii=False))


@cli.command("postman")
def print_postman():
    """Print the Postman collection generated from the description."""
    from gateway.openapi.postman import render

    click.echo(render(), nl=False)


def init_app(app):
    """Serve the description and the docs; add ``flask openapi spec|postman``."""
    app.register_blueprint(bp)
    app.cli.add_command(cli)
