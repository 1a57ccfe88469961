"""The pure parts of the portal's reports: timeline, chart geometry, page totals, filter cleaning."""

import datetime as dt
import itertools
from decimal import Decimal

from werkzeug.datastructures import MultiDict

from gateway.admin import keyset, reports
from gateway.hot_path.payments import STAGES


def test_the_timeline_puts_stages_in_request_order_whatever_the_jsonb_order():
    timings = {"total": 25.5, "answer": 0.5, "forward": 10.0, "claim": 2.0, "validate": 1.0,
               "response_function": 3.0, "request_function": 4.0, "auth": 5.0}
    timeline = reports.timeline(timings)
    assert [s["stage"] for s in timeline["stages"]] == [stage for stage in STAGES if stage != "token"]
    assert [s["start_ms"] for s in timeline["stages"]] == [0.0, 5.0, 6.0, 8.0, 12.0, 22.0, 25.0]
    assert timeline["total_ms"] == 25.5  # authentication is a stage: the stages add up to the total


def test_a_timeline_of_a_request_that_ended_early():
    assert reports.timeline({"validate": 1.5}) == {
        "stages": [{"stage": "validate", "label": "validated and route resolved", "start_ms": 0.0, "ms": 1.5}],
        "total_ms": 1.5}
    assert reports.timeline({}) == {"stages": [], "total_ms": 0.0}


def _hour(h, **states):
    return {"hour": dt.datetime(2026, 1, 1, h), "count": sum(states.values()), "states": states}


def test_the_chart_scales_bars_to_the_busiest_hour():
    hourly = [_hour(h, SUCCESS=(h % 5) // 2, FAILED=h % 5 - (h % 5) // 2) for h in range(24)]
    chart = reports.hourly_chart(hourly, width=720, height=200, pad=20)
    tallest = max(chart["bars"], key=lambda b: b["count"])
    assert chart["peak"] == 4 and tallest["h"] == 160 and tallest["y"] == 20
    assert all(sum(s["h"] for s in b["segments"]) == b["h"] for b in chart["bars"]) and len(chart["bars"]) == 24
    assert [t["value"] for t in chart["ticks"]] == [0, 2, 4]


def test_each_state_is_its_own_segment_stacked_success_first():
    chart = reports.hourly_chart([_hour(0, FAILED=1, UNKNOWN=2, PENDING=3, SUCCESS=4, REJECTED=1)], pad=0)
    segments = chart["bars"][0]["segments"]
    assert [(s["state"], s["count"]) for s in segments] == [
        ("SUCCESS", 4), ("PENDING", 3), ("UNKNOWN", 2), ("REJECTED", 1), ("FAILED", 1)]
    assert all(abs(upper["y"] + upper["h"] - lower["y"]) < 0.2 for lower, upper in itertools.pairwise(segments))
    assert chart["states"][:6] == list(reports.CHART_STATES)


def test_an_empty_day_draws_no_bars_and_no_division_by_zero():
    hourly = [_hour(h) for h in range(24)]
    assert all(b["h"] == 0 and b["segments"] == [] for b in reports.hourly_chart(hourly)["bars"])


def _today_row(app_id, currency, count, success, completed, volume):
    return {"app_id": app_id, "name": app_id.title(), "microservice": "ms", "service": "collection",
            "route": "payment", "currency": currency, "count": count, "success": success,
            "completed": completed, "volume": volume}


def test_totals_keep_one_volume_per_currency_and_rank_the_busiest_first():
    rows = [_today_row("shop", "RWF", 3, 2, 2, Decimal("1500")), _today_row("shop", "USD", 1, 1, 1, Decimal("2.5")),
            _today_row("cafe", "RWF", 5, 0, 1, Decimal(0)), _today_row("cafe", None, 1, 1, 1, Decimal("7"))]
    by_client = reports._grouped(rows, "app_id", "name")
    assert [t.labels["app_id"] for t in by_client] == ["cafe", "shop"]
    cafe, shop = by_client
    assert shop.volumes == [("RWF", Decimal("1500")), ("USD", Decimal("2.5"))]
    assert cafe.volumes == [(None, Decimal("7"))] and cafe.count == 6 and cafe.success_rate == 50.0


def test_shown_error_is_the_switchs_code_else_the_answers_for_failed_rejected_and_unknown():
    assert reports.shown_error({"error_code": "FUNCTION_ERROR", "status": "FAILED", "answer_code": "X"}) == \
        "FUNCTION_ERROR"
    for status in ("FAILED", "UNKNOWN", "REJECTED"):
        assert reports.shown_error({"error_code": None, "status": status, "answer_code": "PROVIDER_ERROR"}) == \
            "PROVIDER_ERROR"
    assert reports.shown_error({"error_code": None, "status": "SUCCESS", "answer_code": "OK"}) is None
    assert reports.shown_error({"error_code": None, "status": None, "answer_code": None}) is None


def test_a_page_counts_exactly_up_to_the_cap_and_says_more_than_beyond_it():
    assert keyset.Page([], None, None, 51, 25).total_label == "51 in all"
    beyond = keyset.Page([], "c", None, keyset.COUNT_CAP + 1, 25)
    assert not beyond.total_exact and beyond.total_label == "more than 1,000"
    assert beyond.to_dict("rows") == {"rows": [], "next_cursor": "c", "prev_cursor": None, "total": None,
                                      "total_more_than": 1000}


def test_filters_drop_what_is_malformed():
    args = MultiDict({"client": " akaliza ", "status": "", "from": "2026-13-40", "to": "2026-02-01", "f010": "x" * 99})
    filters = reports.transaction_filters(args)
    assert filters["app_id"] == "akaliza" and filters["status"] is None and filters["date_from"] is None
    assert filters["date_to"] == dt.date(2026, 2, 1) and len(filters["unique_id"]) == 64
    assert reports.api_log_filters(MultiDict({"status": "2OO"}))["http_status"] is None
    assert reports.api_log_filters(MultiDict({"status": "502"}))["http_status"] == 502
