"""Simulators of downstream providers that follow their public APIs: real HTTP servers, deterministic outcomes.

``python -m gateway.simulators.mtn_momo`` (MTN MoMo Open API: collection, disbursement, API-user provisioning),
``python -m gateway.simulators.mpesa`` (Safaricom Daraja M-Pesa Express) and ``python -m gateway.simulators.cards``
(Stripe's PaymentIntents). Provider specifics live here and in the SQL templates under ``sql/functions/``, never in
the switch's Python.
"""
