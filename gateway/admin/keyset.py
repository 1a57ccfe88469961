"""Keyset pagination of the portal's and admin API's lists: newest first, "next" and "previous" by cursor.

A page is found by where it starts, never by how many rows precede it (no OFFSET): page 10,000 costs what
page 1 costs. A cursor is the (time, id) of a row, in plain URL-safe base64: it names a position in a list
and grants nothing (the list's filters and the reader's rights still apply). Totals are counted up to
``COUNT_CAP`` rows (an index range, cheap); beyond that the page says "more than N".
"""

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import tuple_

from gateway.db import compose
from gateway.errors import ValidationFailed

COUNT_CAP = 1000
_VERSION = "k1"


@dataclass(frozen=True)
class Position:
    """A row's place in a newest-first list: its time and id."""

    at: dt.datetime
    id: int


def encode(position):
    """The opaque cursor of ``position``."""
    text = f"{_VERSION}|{position.at.isoformat()}|{position.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(value, name="cursor"):
    """The ``Position`` a cursor names; ``ValidationFailed`` (400, the field named) for anything else."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        version, at, row_id = text.split("|")
        if version != _VERSION or not row_id.isdigit():
            raise ValueError
        position = Position(dt.datetime.fromisoformat(at), int(row_id))
        if position.at.tzinfo is None:
            raise ValueError
        return position
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(details={name: "is not a cursor this list gave (use it as it came)"}) from None


@dataclass
class Page:
    """One page of a list, newest first, with the cursors of its neighbours and how many rows match."""

    items: list
    next_cursor: str | None  # older rows
    prev_cursor: str | None  # newer rows
    count: int  # matching rows, counted up to COUNT_CAP + 1
    per_page: int

    @property
    def total_exact(self):
        """Whether ``count`` is every matching row (else there are more than ``COUNT_CAP``)."""
        return self.count <= COUNT_CAP

    @property
    def total_label(self):
        """"42 in all", or "more than 1,000" when counting further would cost a scan."""
        return f"{self.count:,} in all" if self.total_exact else f"more than {COUNT_CAP:,}"

    def to_dict(self, key):
        """The page as the admin API answers it."""
        return {key: self.items, "next_cursor": self.next_cursor, "prev_cursor": self.prev_cursor,
                "total": self.count if self.total_exact else None,
                "total_more_than": None if self.total_exact else COUNT_CAP}


def cursor_args(args, lenient=False):
    """``(after, before)`` positions from ``?after=`` (next page) and ``?before=`` (previous page).

    A malformed cursor is a 400 naming it; ``lenient`` (the portal, which drops malformed filters too) reads it
    as no cursor: the newest page.
    """
    try:
        after = decode(args["after"], "after") if args.get("after") else None
        before = decode(args["before"], "before") if args.get("before") and after is None else None
    except ValidationFailed:
        if lenient:
            return None, None
        raise
    return after, before


def fetch_page(db, select, at_column, id_column, after=None, before=None, per_page=25, position=None, count=True):
    """Run ``select`` (filtered, unordered) as one keyset page; ``position(row)`` gives a row's ``Position``.

    Newest first. ``after``: rows older than that position (next); ``before``: newer (previous), read
    oldest-first from the position and turned round. One row more than the page tells whether more follow.
    ``count=False`` (a preview of the newest rows) skips counting the matching rows: ``count`` is then 0.
    """
    position = position or (lambda row: Position(row["created_at"], row["id"]))
    key = tuple_(at_column, id_column)
    query = select
    if after is not None:
        query = query.where(key < tuple_(after.at, after.id))
    elif before is not None:
        query = query.where(key > tuple_(before.at, before.id))
    newest_first = before is None
    order = (at_column.desc(), id_column.desc()) if newest_first else (at_column.asc(), id_column.asc())
    rows = compose.fetch_all(db, query.order_by(*order).limit(per_page + 1))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if not newest_first:
        rows.reverse()
    has_older = more if newest_first else True
    has_newer = (after is not None) if newest_first else more
    count = compose.count_upto(db, select, COUNT_CAP + 1) if count else 0
    return Page(rows, encode(position(rows[-1])) if rows and has_older else None,
                encode(position(rows[0])) if rows and has_newer else None, count, per_page)

