"""Portal failures render an HTML page; the API's stay in the one JSON error shape."""

import logging

from flask import render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from gateway.errors import MosPayError, error_response, from_http_exception
from gateway.portal.blueprint import bp

log = logging.getLogger(__name__)


def error_page(status, title, message):
    """The HTML error page."""
    return render_template("portal/error.html", status=status, title=title, message=message), status


@bp.errorhandler(CSRFError)
def _csrf(error):
    return error_page(400, "Form expired", "The form's security token is missing or invalid. "
                                           "Go back, reload the page and try again.")


@bp.errorhandler(MosPayError)
def _mospay(error):
    if error.status >= 500:
        log.error("%s: %s", error.code, error.message)
    return error_page(error.status, error.code.replace("_", " ").capitalize(), error.message)


def _http_page(exc):
    # Werkzeug's own headers, such as a 405's Allow, come with the page.
    allow = {name: value for name, value in exc.get_headers() if name == "Allow"}
    return (*error_page(exc.code or 500, exc.name, exc.description), allow)


@bp.errorhandler(HTTPException)
def _http(exc):
    return _http_page(exc)


@bp.errorhandler(Exception)
def _unexpected(exc):
    log.exception("unexpected portal error")
    return error_page(500, "Something went wrong", "The portal could not complete the request.")


def init_app(app):
    """Unknown portal URLs (no blueprint matched) get the HTML page too; others keep the JSON shape."""

    def _unrouted(exc):
        if request.path.startswith(("/portal/", "/client/")) or request.path in ("/portal", "/client"):
            return _http_page(exc)
        return error_response(from_http_exception(exc))

    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
