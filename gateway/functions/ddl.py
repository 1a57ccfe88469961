"""What a DBA's source may be: exactly one ``CREATE [OR REPLACE] FUNCTION`` of the named function.

Checked with PostgreSQL's own parser (``pglast``) before anything runs, so that no
``;``, comment, dollar quote or second statement can smuggle other DDL past the
check: a function in another schema, a ``SECURITY DEFINER`` helper, a role change.
The function's body is the tenant's business; its definition is the switch's.
"""

from pglast import parse_sql
from pglast.parser import ParseError

from gateway.db import FUNCTION_SCHEMA

ALLOWED_LANGUAGES = ("plpgsql", "sql")
_FORBIDDEN_SETTINGS = ("role", "session_authorization")


def check_function_source(source, name):
    """Return nothing if ``source`` creates or replaces ``mospay_fn.<name>`` and nothing else; else raise
    ``ValueError`` with the reason."""
    try:
        statements = parse_sql(source)
    except ParseError as error:
        raise ValueError(f"PostgreSQL cannot parse it: {error}") from None
    if len(statements) != 1:
        raise ValueError(f"it must be exactly one statement, not {len(statements)}")
    statement = statements[0].stmt
    if type(statement).__name__ != "CreateFunctionStmt" or statement.is_procedure:
        raise ValueError("it must be a CREATE [OR REPLACE] FUNCTION statement")
    parts = [part.sval for part in statement.funcname]
    if parts != [FUNCTION_SCHEMA, name]:
        raise ValueError(f"it must create {FUNCTION_SCHEMA}.\"{name}\" (schema-qualified), not {'.'.join(parts)}")
    for option in statement.options or ():
        _check_option(option)


def _check_option(option):
    if option.defname == "security" and getattr(option.arg, "boolval", False):
        raise ValueError("SECURITY DEFINER functions are not allowed: they would run with their owner's rights")
    if option.defname == "language" and option.arg.sval.lower() not in ALLOWED_LANGUAGES:
        raise ValueError(f"functions must be written in {' or '.join(ALLOWED_LANGUAGES)}")
    if option.defname == "set" and (option.arg.name or "").lower() in _FORBIDDEN_SETTINGS:
        raise ValueError(f"a function may not SET {option.arg.name}")


_IMPORTABLE = ("CreateFunctionStmt", "CommentStmt", "VariableSetStmt")
_IMPORT_SCHEMA = "mospay_legacy"
# The import sets the search path (mospay_legacy) so that unqualified names land there: the file may not move it.
_FORBIDDEN_IN_FILE = (*_FORBIDDEN_SETTINGS, "search_path")


def check_import_file(source):
    """Return nothing if ``source`` (an original MosPay dump) only creates functions, comments on them and
    sets ordinary settings; else raise ``ValueError`` naming the first other statement.

    The file runs as the function owner; a ``RESET ROLE``, a ``DO`` block or a call could otherwise
    return to the switch's own role in the middle of it.
    """
    try:
        statements = parse_sql(source)
    except ParseError as error:
        raise ValueError(f"PostgreSQL refused the file: {error}") from None
    for number, raw in enumerate(statements, start=1):
        statement, kind = raw.stmt, type(raw.stmt).__name__
        if kind not in _IMPORTABLE:
            raise ValueError(f"statement {number} is a {kind}: a MosPay function file may only create functions")
        if kind == "VariableSetStmt" and (statement.name is None or statement.name.lower() in _FORBIDDEN_IN_FILE):
            raise ValueError(f"statement {number} changes the role or the search path: not allowed in a function file")
        if kind == "CreateFunctionStmt":
            # PostgreSQL's own reading of the name (comments, quotes, U&"…" escapes resolved): mospay_fn holds
            # every client's own functions and must stay out of a file's reach.
            parts = [part.sval for part in statement.funcname]
            if len(parts) > 1 and parts[:-1] != [_IMPORT_SCHEMA]:
                raise ValueError(f"statement {number} creates {'.'.join(parts)}: functions are imported into "
                                 f"{_IMPORT_SCHEMA} only")
            for option in statement.options or ():
                _check_option(option)
