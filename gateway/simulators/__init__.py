"""Simulators of downstream providers, each a real HTTP server with deterministic outcomes.

``python -m gateway.simulators.mpesa`` (M-Pesa-like STK push) and
``python -m gateway.simulators.cards`` (a card processor). The MTN-MoMo-like
collection simulator is ``gateway.simulators.mtn_momo``. Provider specifics live here and
in the SQL templates under ``sql/functions/``, never in the switch's Python.
"""
