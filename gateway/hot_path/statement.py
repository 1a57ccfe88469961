"""What an integrator reads of its own payments: one payment's state, and its statement page by page.

The statement pages newest first by keyset (an opaque cursor holds the last id seen), so page 10,000 costs
what page 1 costs; a cursor only ever reads the caller's own payments.
"""

import base64
import binascii
from datetime import datetime

from gateway.db import Q
from gateway.errors import TransactionNotFound, ValidationFailed
from gateway.hot_path.payments import UNIQUE_ID
from gateway.hot_path.settlement import STATES

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def transaction_status(db, client, unique_id):
    """The stored state and answer of a client's transaction."""
    if not UNIQUE_ID.fullmatch(unique_id):
        raise TransactionNotFound()
    row = db.fetch_one(Q.transaction_status, {"client_id": client.id, "unique_id": unique_id})
    if row is None:
        raise TransactionNotFound()
    return {"transaction_ref": row["ref"], "unique_id": row["unique_id"], "status": row["status"],
            "answer": row["answer"], "created_at": row["created_at"].isoformat(),
            "completed_at": row["completed_at"].isoformat() if row["completed_at"] else None}


def statement(db, client, args):
    """``{"payments": [...], "next_cursor": str | None}``: the client's payments, newest first.

    ``args``: ``from``/``to`` (ISO 8601 dates or times; ``to`` excluded), ``status``, ``limit`` (1–200),
    ``cursor`` (from the previous page).
    """
    params, problems = {"client_id": client.id}, {}
    for name, key in (("from", "date_from"), ("to", "date_to")):
        params[key] = _when(args.get(name), name, problems)
    status = args.get("status") or None
    if status is not None and status not in STATES:
        problems["status"] = f"must be one of {', '.join(STATES)}"
    params["status"] = status
    params["limit"] = _limit(args.get("limit"), problems)
    params["before_id"] = _cursor(args.get("cursor"), problems)
    if problems:
        raise ValidationFailed(details=problems)
    rows = db.fetch_all(Q.client_statement, {**params, "limit": params["limit"] + 1})
    page = rows[:params["limit"]]
    more = len(rows) > params["limit"]
    return {"payments": [_item(row) for row in page],
            "next_cursor": _encode(page[-1]["id"]) if more and page else None}


def _item(row):
    answer = row["answer"] or {}
    error = answer.get("error") or {}
    return {"transaction_ref": row["ref"], "unique_id": row["unique_id"], "status": row["status"],
            "code": answer.get("code") or error.get("code"), "message": answer.get("message") or error.get("message"),
            "data": answer.get("data", {}), "http_status": row["http_status"],
            "created_at": row["created_at"].isoformat(),
            "completed_at": row["completed_at"].isoformat() if row["completed_at"] else None}


def _when(value, name, problems):
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        problems[name] = "must be an ISO 8601 date or time, e.g. 2026-12-01 or 2026-12-01T08:00:00Z"
        return None
    return parsed


def _limit(value, problems):
    if value in (None, ""):
        return DEFAULT_LIMIT
    if not str(value).isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        problems["limit"] = f"must be an integer from 1 to {MAX_LIMIT}"
        return DEFAULT_LIMIT
    return int(value)


def _encode(transaction_id):
    return base64.urlsafe_b64encode(f"v1:{transaction_id}".encode()).decode().rstrip("=")


def _cursor(value, problems):
    if not value:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        version, transaction_id = text.split(":", 1)
        if version != "v1" or not transaction_id.isdigit():
            raise ValueError
        return int(transaction_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        problems["cursor"] = "is not a cursor this API gave (use next_cursor as it came)"
        return None
