"""One-line builders of clients, services and routes through the real admin API."""

import uuid

import psycopg
import requests

DEFAULT_FIELDS = [
    {"code": "f004", "name": "amount", "type": "amount", "required": True, "min": "1", "max": "1000000"},
    {"code": "f005", "name": "currency", "type": "currency"},
    {"code": "f006", "name": "msisdn", "type": "msisdn", "required": True},
    {"code": "f007", "name": "pin", "type": "secret"},
    {"code": "f008", "name": "password", "type": "secret"},
    {"code": "f009", "name": "narration", "type": "string", "max": "100"},
]


# The callback URL (with its token) each assignment answered, by (base_url, app_id, microservice, route):
# what an admin hands the provider. Tests that play the provider read it here.
CALLBACK_URLS = {}


def unique_name(prefix):
    """A fresh lowercase name part, so tests never collide."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class Admin:
    """The admin API as a test uses it."""

    def __init__(self, base_url, token):
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path, payload=None, **kwargs):
        return requests.post(f"{self.base_url}/api/v1/admin{path}", json=payload, headers=self.headers, **kwargs)

    def get(self, path):
        return requests.get(f"{self.base_url}/api/v1/admin{path}", headers=self.headers)

    def put(self, path, payload=None):
        return requests.put(f"{self.base_url}/api/v1/admin{path}", json=payload, headers=self.headers)

    def create_client(self, **overrides):
        payload = {"name": unique_name("Test Client "), "app_id": unique_name("app"), **overrides}
        response = self.post("/clients", payload)
        assert response.status_code == 201, response.text
        return response.json()

    def create_service(self, url, **overrides):
        payload = {"microservice": unique_name("ms"), "service": "collection", "route": "payment",
                   "url": url, "timeout_ms": 2000, "template": "generic_json", "fields": DEFAULT_FIELDS,
                   **overrides}
        response = self.post("/services", payload)
        assert response.status_code == 201, response.text
        return response.json()

    def assign(self, client, service):
        key = {k: service[k] for k in ("microservice", "service", "route")}
        response = self.post(f"/clients/{client['app_id']}/services", key)
        assert response.status_code == 201, response.text
        assigned = response.json()
        if "callback_url" in assigned:
            url = assigned["callback_url"]
            CALLBACK_URLS[(self.base_url, client["app_id"], key["microservice"], key["route"])] = (
                self.base_url + url if url.startswith("/") else url)
        return assigned


class Integrator:
    """A client app posting payments with Basic Auth + App-ID."""

    def __init__(self, base_url, client, service):
        self.base_url = base_url
        self.client = client
        self.service = service
        self.auth = (client["username"], client["password"])
        self.headers = {"App-ID": client["app_id"]}

    def message(self, **fields):
        """A valid message for this route; keyword arguments override fields."""
        message = {"f000": self.service["microservice"], "f001": self.service["service"],
                   "f002": self.service["route"], "f003": self.client["app_id"], "f004": "1500",
                   "f005": "RWF", "f006": "250788123456", "f010": unique_name("tx")}
        message.update(fields)
        return message

    def pay(self, message=None, **kwargs):
        return requests.post(f"{self.base_url}/api/v1/payment/process", json=message or self.message(),
                             auth=self.auth, headers=self.headers, **kwargs)


def user_token(base_url, admin, role):
    """A token of a fresh user with ``role`` who has changed the first password."""
    username, first, final = unique_name(role), "first-password-1", "final-password-1"
    assert admin.post("/users", {"username": username, "role": role, "password": first}).status_code == 201
    token = requests.post(f"{base_url}/api/v1/admin/token", auth=(username, first)).json()["access_token"]
    requests.post(f"{base_url}/api/v1/admin/password", headers={"Authorization": f"Bearer {token}"},
                  json={"current_password": first, "new_password": final})
    return requests.post(f"{base_url}/api/v1/admin/token", auth=(username, final)).json()["access_token"]


def replace_function(rt, name, body, args="request jsonb, context jsonb"):
    """What a DBA (or an attacker with the DBA's access) does in psql: rewrite a client's function in place."""
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as conn:
        conn.execute(f'CREATE OR REPLACE FUNCTION mospay_fn."{name}"({args}) RETURNS jsonb '
                     f"LANGUAGE plpgsql AS $f$ {body} $f$")


def request_function_name(integrator):
    """The name of an integrator's generated request function."""
    return f"{integrator.client['app_id']}_{integrator.service['microservice']}_{integrator.service['route']}"
