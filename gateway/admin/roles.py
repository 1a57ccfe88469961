"""The roles of portal and admin-API users, declared once; everything that names a role imports it from here.

(The database's ``users.role`` CHECK constraint repeats the list: a migration cannot import.)
"""

ROLES = ("viewer", "dba", "admin")  # least privilege first: the first is the default of a new user
WRITE_ROLES = ("admin",)  # clients, services, routes, users
FUNCTION_ROLES = ("admin", "dba")  # the DBA workbench's changes
ROLE_DESCRIPTIONS = {"viewer": "read only", "dba": "the DBA workbench, read the rest", "admin": "everything"}
