"""The workbench's first edit: it starts from the recorded source, so changing one line is a one-line diff."""

import html
import re

import pytest


@pytest.fixture(scope="module")
def dba_portal(portal_as):
    return portal_as("dba")


def edit_form_source(session, fn):
    page = session.get(f"/portal/functions/{fn}/edit").text
    return html.unescape(re.search(r'<textarea[^>]*id="source"[^>]*>(.*?)</textarea>', page, re.S).group(1)).lstrip(
        "\r\n")


def save(session, fn, source):
    saved = session.submit(f"/portal/functions/{fn}/edit", {"source": source, "note": "one line"},
                           form_page=f"/portal/functions/{fn}/edit")
    assert saved.status_code == 302, saved.text


def diff_rows(session, fn, old, new):
    page = session.get(f"/portal/functions/{fn}/diff?from={old}&to={new}").text
    row = r'<tr class="diff-(added|removed)"><td class="diff-sign">[+-]</td><td class="diff-line">(.*?)</td>'
    return re.findall(row, page, re.S)


def test_an_edit_of_one_line_is_a_one_line_diff_comments_and_header_kept(dba_portal, integrator):
    fn = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    source = edit_form_source(dba_portal, fn)
    assert source.startswith("-- Request function")  # the template's comment, not PostgreSQL's reformatted copy
    save(dba_portal, fn, source.replace("'POST')", "'PUT')"))

    rows = diff_rows(dba_portal, fn, 1, 2)

    assert [kind for kind, _ in rows] == ["removed", "added"]
    assert "&#39;PUT&#39;" in rows[1][1]


def test_a_removed_comment_line_shows_as_a_removed_comment_not_a_diff_header(dba_portal, integrator):
    fn = f"RESPONSE_{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    source = edit_form_source(dba_portal, fn)
    comment = source.splitlines()[0]
    assert comment.startswith("-- ")
    save(dba_portal, fn, source.split("\n", 1)[1])

    assert [(kind, html.unescape(line)) for kind, line in diff_rows(dba_portal, fn, 1, 2)] == [("removed", comment)]
