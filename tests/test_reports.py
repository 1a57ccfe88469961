"""The pure parts of the portal's reports: timeline, chart geometry, paging, filter cleaning."""

import datetime as dt

from werkzeug.datastructures import MultiDict

from gateway import reports


def test_the_timeline_puts_stages_in_request_order_whatever_the_jsonb_order():
    timings = {"total": 20.0, "forward": 10.0, "claim": 2.0, "validate": 1.0, "response_function": 3.0,
               "request_function": 4.0}
    timeline = reports.timeline(timings)
    assert [s["stage"] for s in timeline["stages"]] == list(reports.STAGES)
    assert [s["start_ms"] for s in timeline["stages"]] == [0.0, 1.0, 3.0, 7.0, 17.0]
    assert timeline["total_ms"] == 20.0


def test_a_timeline_of_a_request_that_ended_early():
    assert reports.timeline({"validate": 1.5}) == {
        "stages": [{"stage": "validate", "label": "received and validated", "start_ms": 0.0, "ms": 1.5}],
        "total_ms": 1.5}
    assert reports.timeline({}) == {"stages": [], "total_ms": 0.0}


def test_the_chart_scales_bars_to_the_busiest_hour():
    start = dt.datetime(2026, 1, 1, 0, 0)
    hourly = [{"hour": start + dt.timedelta(hours=h), "count": h % 5, "success": (h % 5) // 2,
               "failed": 0} for h in range(24)]
    chart = reports.hourly_chart(hourly, width=720, height=200, pad=20)
    tallest = max(chart["bars"], key=lambda b: b["count"])
    assert chart["peak"] == 4 and tallest["h"] == 160 and tallest["y"] == 20
    assert all(b["sh"] <= b["h"] for b in chart["bars"]) and len(chart["bars"]) == 24
    assert [t["value"] for t in chart["ticks"]] == [0, 2, 4]


def test_an_empty_day_draws_no_bars_and_no_division_by_zero():
    hourly = [{"hour": dt.datetime(2026, 1, 1, h), "count": 0, "success": 0, "failed": 0} for h in range(24)]
    assert all(b["h"] == 0 for b in reports.hourly_chart(hourly)["bars"])


def test_paging():
    page = reports.Page(items=[], page=2, per_page=25, total=51)
    assert (page.pages, page.has_prev, page.has_next) == (3, True, True)
    assert reports.Page([], 1, 25, 0).pages == 1


def test_filters_drop_what_is_malformed():
    args = MultiDict({"client": " akaliza ", "status": "", "from": "2026-13-40", "to": "2026-02-01", "f010": "x" * 99})
    filters = reports.transaction_filters(args)
    assert filters["app_id"] == "akaliza" and filters["status"] is None and filters["date_from"] is None
    assert filters["date_to"] == dt.date(2026, 2, 1) and len(filters["unique_id"]) == 64
    assert reports.api_log_filters(MultiDict({"status": "2OO"}))["http_status"] is None
    assert reports.api_log_filters(MultiDict({"status": "502"}))["http_status"] == 502
