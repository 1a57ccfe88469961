"""Secrets are masked wherever a copy of them could travel."""

from gateway.security.masking import mask_headers, mask_message, mask_msisdn, scrub, secret_values


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
