"""A Postman collection (v2.1) generated from the OpenAPI description.

``python -m gateway.openapi.postman > docs/mospay.postman_collection.json``
(or ``flask --app app openapi postman``). The output is deterministic, so a
test can prove the committed file is the one the description gives.
"""

import json
import re
import uuid

from gateway.openapi.spec import build_spec

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
VARIABLES = {
    "baseUrl": ("http://127.0.0.1:5000", "Where the switch listens."),
    "username": ("akaliza", "The client's username (the demo client's)."),
    "password": ("akaliza-demo-secret", "The client's password (the demo client's)."),
    "appId": ("akaliza", "The client's App-ID."),
    "clientToken": ("", "Set by \"Exchange Basic + App-ID for a JWT\"."),
    "adminUsername": ("admin", "An admin user."),
    "adminPassword": ("", "That user's password."),
    "adminToken": ("", "Set by \"Exchange a user's Basic credentials for an admin token\"."),
}
_PARAM = re.compile(r"\{([^}]+)\}")


def _credential(kind, pairs):
    return {"type": kind, kind: [{"key": key, "value": value, "type": "string"} for key, value in pairs]}


def _auth(security):
    """Postman auth and extra headers for the operation's first security requirement."""
    first = security[0] if security else {}
    headers = [{"key": "App-ID", "value": "{{appId}}"}] if "appId" in first else []
    if "basicAuth" in first:
        who = ("{{username}}", "{{password}}") if "appId" in first else ("{{adminUsername}}", "{{adminPassword}}")
        return _credential("basic", (("username", who[0]), ("password", who[1]))), headers
    if "adminBearer" in first or "clientBearer" in first:
        token = "{{adminToken}}" if "adminBearer" in first else "{{clientToken}}"
        return _credential("bearer", (("token", token),)), headers
    return {"type": "noauth"}, headers


def _url(path, parameters):
    postman_path = _PARAM.sub(r":\1", path)
    url = {"raw": "{{baseUrl}}" + postman_path, "host": ["{{baseUrl}}"], "path": postman_path.strip("/").split("/")}
    variables = [{"key": p["name"], "value": str(p.get("example", "")), "description": p.get("description", "")}
                 for p in parameters if p["in"] == "path"]
    query = [{"key": p["name"], "value": str(p.get("example", "")), "description": p.get("description", "")}
             for p in parameters if p["in"] == "query"]
    if variables:
        url["variable"] = variables
    if query:
        url["query"] = query
        url["raw"] += "?" + "&".join(f"{q['key']}={q['value']}" for q in query)
    return url


def _body(operation):
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return None
    example = next(iter(content.get("examples", {}).values()), {}).get("value", {})
    return {"mode": "raw", "raw": json.dumps(example, indent=2, ensure_ascii=False),
            "options": {"raw": {"language": "json"}}}


def _token_script(operation):
    schema = (operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
              .get("schema", {}).get("$ref", ""))
    variable = {"#/components/schemas/ClientToken": "clientToken",
                "#/components/schemas/AdminToken": "adminToken"}.get(schema)
    if variable is None:
        return None
    return [{"listen": "test", "script": {"type": "text/javascript", "exec": [
        f"if (pm.response.code === 200) {{ pm.collectionVariables.set(\"{variable}\", "
        "pm.response.json().access_token); }"]}}]


def _item(path, method, operation):
    auth, headers = _auth(operation.get("security", []))
    body = _body(operation)
    if body:
        headers = [{"key": "Content-Type", "value": "application/json"}, *headers]
    request = {"method": method.upper(), "header": headers, "auth": auth,
               "url": _url(path, operation.get("parameters", [])),
               "description": operation.get("description", operation["summary"])}
    if body:
        request["body"] = body
    item = {"name": operation["summary"], "request": request, "response": []}
    script = _token_script(operation)
    if script:
        item["event"] = script
    return item


def collection(spec=None):
    """The collection as a dict: one folder per tag, one request per operation, in the description's order."""
    spec = spec or build_spec()
    folders = {tag["name"]: [] for tag in spec.get("tags", [])}
    for path, path_item in spec["paths"].items():
        for method, operation in path_item.items():
            folders.setdefault(operation["tags"][0], []).append(_item(path, method, operation))
    info = spec["info"]
    return {
        "info": {"_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "mospay:" + info["title"])),
                 "name": info["title"], "description": info["description"], "schema": SCHEMA},
        "auth": {"type": "noauth"},
        "variable": [{"key": key, "value": value, "description": description}
                     for key, (value, description) in VARIABLES.items()],
        "item": [{"name": name, "item": items} for name, items in folders.items() if items],
    }


def render(spec=None):
    """The collection as the text committed under ``docs/``."""
    return json.dumps(collection(spec), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
