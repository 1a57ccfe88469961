"""The API tests share the portal's Chromium fixture for the docs page."""

from tests.portal.conftest import browser  # noqa: F401
