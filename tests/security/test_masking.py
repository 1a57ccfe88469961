"""Secrets are masked wherever a copy of them could travel."""

from gateway.security.masking import Secrets, mask_headers, mask_message, mask_msisdn, scrub, secret_values


def test_secret_fields_are_masked_and_others_kept():
    assert mask_message({"f004": "10", "f007": "1234", "f008": ""}) == {"f004": "10", "f007": "****", "f008": ""}


def test_copies_of_secrets_are_scrubbed_deeply():
    secrets = secret_values({"f007": "1234", "f008": "long-password-1"})
    value = {"pin": "1234", "msisdn": "250781234567", "h": ["Basic long-password-1"]}
    assert scrub(value, secrets) == {"pin": "****", "msisdn": "250781234567", "h": ["Basic ****"]}


def test_credential_headers_are_masked():
    assert mask_headers({"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "a"}) == {
        "Authorization": "****", "X-Api-Key": "****", "Accept": "a"}


def test_msisdn_keeps_only_its_last_digits():
    assert mask_msisdn("250788123456") == "*********456"


def test_a_payments_own_secrets_are_added_to_its_routes_without_compiling_them():
    route = Secrets(("route-credential-0001",))
    payment = route.plus(("4321",))
    assert payment.values == ("route-credential-0001", "4321")
    assert route.plus(()) is route and route.plus(("",)) is route
    answer = {"echo": "4321", "note": "key route-credential-0001 and pin 4321", "pin64": "NDMyMQ=="}
    assert payment.scrub(answer) == {"echo": "****", "note": "key **** and pin 4321", "pin64": "****"}
    assert payment.scrub(answer["note"], in_text=True) == "key **** and pin ****"
    assert payment.plus(("token-of-the-provider",)).scrub("Bearer TOKEN-OF-THE-PROVIDER, pin 1234") == \
        "Bearer ****, pin 1234"


def test_overlapping_secrets_leave_no_part_of_either_readable():
    # One pattern alternation masked "abcd1234" and went on after it, leaving "wxyz" of "1234wxyz" readable.
    for secrets in (Secrets(("abcd1234", "1234wxyz")), Secrets(("abcd1234",)).plus(("1234wxyz",))):
        assert secrets.scrub("id=abcd1234wxyz;", in_text=True) == "id=****;"
    assert Secrets(("straße-secret",)).plus(("pin-for-STRASSE",)).scrub(
        "Straße-secret and PIN-FOR-strasse", in_text=True) == "**** and ****"


def test_a_payments_own_secret_is_masked_in_every_case_a_function_can_put_it_in():
    # "ı".upper() is "I", whose casefold is "i": a casefolded search alone left "KAPIKOD99" readable.
    secrets = Secrets().plus(["kapıkod99"])
    assert secrets.scrub("PIN=KAPIKOD99 rejected", in_text=True) == "PIN=**** rejected"
    assert secrets.scrub({"x": "KAPIKOD99"}) == {"x": "****"}
    # Text whose casefold is longer (ß → ss) is masked at the right place, without a pattern compiled for it.
    assert Secrets().plus(["geheim-4321"]).scrub("Weiß: GEHEIM-4321!", in_text=True) == "Weiß: ****!"


def test_a_pin_written_as_a_number_or_as_a_key_is_masked_too():
    secrets = Secrets().plus(["4321"])
    assert secrets.scrub({"pin": 4321, "amount": 1500, "ok": True, "by_pin": {"4321": "payer"}}) == \
        {"pin": "****", "amount": 1500, "ok": True, "by_pin": {"****": "payer"}}
