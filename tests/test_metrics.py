"""/metrics speaks Prometheus and counts payments by state and stage."""

import requests


def test_payments_and_stages_are_counted(integrator, base_url):
    integrator.pay()

    text = requests.get(f"{base_url}/metrics").text

    assert f'mospay_payments_total{{app_id="{integrator.client["app_id"]}"' in text
    assert 'mospay_stage_seconds_bucket{le="0.005",stage="forward"}' in text
    assert 'mospay_http_requests_total{endpoint="/api/v1/payment/process",method="POST",status="200"}' in text
    assert 'mospay_db_pool_connections{pool="mospay",state="size"}' in text
