"""Bills over HTTP: create, import, read, cancel, waive, look up; every bad input refused as
problem+json naming the field, with nothing changed."""

from __future__ import annotations

from typing import Any

from billfold.testing.http import ApiClient as Api

NEW_BILL: dict[str, Any] = {
    "bill_no": "F2026-001",
    "payer": {"kind": "student_no", "identifier": "2024009", "name": "张三"},
    "items": [
        {"code": "tuition", "name": "学费", "amount": "4500.00"},
        {"code": "books", "name": "教材费", "amount": "320.50", "priority": 200},
    ],
    "due_date": "2026-09-30",
    "period": "2026秋",
}


def test_a_bill_created_over_http_is_stored_and_read_back(api: Api) -> None:
    made = api.client.post("/v1/billers/s1/bills", json=NEW_BILL, headers=api.auth("s1"))
    assert made.status_code == 201, made.text
    assert made.json()["principal"] == "4820.50" and made.json()["status"] == "open"
    got = api.client.get("/v1/billers/s1/bills/F2026-001", headers=api.auth("s1-read")).json()
    assert got["amount_due"] == "4820.50"
    assert [i["code"] for i in got["items"]] == ["tuition", "books"]
    assert api.engine.bill("s1", "F2026-001").principal_fen == 482050


def test_an_amount_with_three_decimals_is_refused_naming_the_field(api: Api) -> None:
    bad = {**NEW_BILL, "items": [{"code": "x", "name": "x", "amount": "1.234"}]}
    answer = api.client.post("/v1/billers/s1/bills", json=bad, headers=api.auth("s1"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "invalid_input" and problem["status"] == 422
    assert problem["detail"] == "items.0.amount: '1.234' has more than two decimals"
    assert problem["instance"] == "/v1/billers/s1/bills"
    assert problem["type"] == "urn:billfold:problem:invalid_input"
    assert (
        api.client.get("/v1/billers/s1/bills/F2026-001", headers=api.auth("s1")).status_code == 404
    )


def test_a_number_instead_of_a_yuan_string_is_refused(api: Api) -> None:
    bad = {**NEW_BILL, "items": [{"code": "x", "name": "x", "amount": 12.5}]}
    answer = api.client.post("/v1/billers/s1/bills", json=bad, headers=api.auth("s1"))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith('items.0.amount: must be a string like "12.34"')


def test_unknown_fields_and_missing_fields_are_named(api: Api) -> None:
    bad = {k: v for k, v in NEW_BILL.items() if k != "payer"} | {"colour": "red"}
    problem = api.client.post("/v1/billers/s1/bills", json=bad, headers=api.auth("s1")).json()
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"payer", "colour"}


def test_a_domain_rule_broken_is_a_422_with_the_engines_message(api: Api) -> None:
    bad = {**NEW_BILL, "kind": "fine"}  # a fine needs its decision number
    problem = api.client.post("/v1/billers/s1/bills", json=bad, headers=api.auth("s1")).json()
    assert problem["status"] == 422
    assert problem["detail"] == "bill F2026-001: a fine needs its decision number"


def test_creating_the_same_bill_number_twice_is_a_conflict(api: Api) -> None:
    api.client.post("/v1/billers/s1/bills", json=NEW_BILL, headers=api.auth("s1"))
    again = api.client.post("/v1/billers/s1/bills", json=NEW_BILL, headers=api.auth("s1"))
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert again.json()["detail"] == "bill F2026-001 already exists for biller s1"


def test_a_csv_upload_imports_bills_and_a_bad_file_names_its_lines(api: Api) -> None:
    good = "bill_no,payer_id,amount\nT3,2024003,99.00\n".encode("gbk")
    answer = api.client.post(
        "/v1/billers/s1/bills/import",
        files={"file": ("arrears.csv", good, "text/csv")},
        headers=api.auth("s1"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "file": "arrears.csv",
        "created": 1,
        "unchanged": 0,
        "rejected": 0,
        "errors": [],
        "warnings": [],
        "changes": [],
    }
    bad = b"bill_no,payer_id,amount\nT4,2024004,1.234\n"
    refused = api.client.post(
        "/v1/billers/s1/bills/import",
        files={"file": ("bad.csv", bad, "text/csv")},
        headers=api.auth("s1"),
    )
    assert refused.status_code == 422 and refused.json()["code"] == "import_failed"
    assert "line 2" in refused.json()["errors"][0]
    assert refused.json()["errors"][0].endswith("has more than two decimals")


def test_an_upload_with_a_remark_column_warns_and_strict_refuses_it(api: Api) -> None:
    text = "bill_no\tpayer_id\tamount\t备注\nT5\t2024005\t10.00\t补缴\n".encode()
    strict = api.client.post(
        "/v1/billers/s1/bills/import",
        files={"file": ("t.csv", text, "text/csv")},
        data={"strict": "true"},
        headers=api.auth("s1"),
    )
    assert strict.status_code == 422
    assert strict.json()["errors"] == ["line 1: header: unknown column(s): 备注"]
    answer = api.client.post(
        "/v1/billers/s1/bills/import",
        files={"file": ("t.csv", text, "text/csv")},
        headers=api.auth("s1"),
    )
    assert answer.json()["created"] == 1
    assert answer.json()["warnings"] == [
        "line 1: file: read as tab-separated (found in the header)",
        "line 1: header: unknown column(s) ignored: 备注",
    ]


def test_cancel_and_waive_change_the_bill_and_record_who_did_it(api: Api) -> None:
    waived = api.client.post(
        "/v1/billers/s1/bills/T2/waive",
        json={"amount": "5.50", "reason": "助学减免", "operator": "clerk7"},
        headers=api.auth("s1", **{"Idempotency-Key": "waive-T2"}),
    )
    assert waived.status_code == 200 and waived.json()["outstanding"] == "20.00"
    cancelled = api.client.post(
        "/v1/billers/s1/bills/T1/cancel", json={"reason": "重复开单"}, headers=api.auth("s1")
    )
    assert cancelled.json()["status"] == "cancelled"
    actors = {e["actor"] for e in api.engine.audit_log("bill")}
    assert any(a.startswith("clerk7 (api key ") for a in actors)


def test_waiving_more_than_is_owed_is_refused_and_changes_nothing(api: Api) -> None:
    answer = api.client.post(
        "/v1/billers/s1/bills/T1/waive",
        json={"amount": "10.01", "reason": "x"},
        headers=api.auth("s1", **{"Idempotency-Key": "waive-T1"}),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == ("waiver: 10.01 is more than the 10.00 still owed on bill T1")
    assert api.engine.bill("s1", "T1").waived_fen == 0


def test_a_repeated_waiver_answers_the_same_and_waives_once(api: Api) -> None:
    def waive() -> object:
        return api.client.post(
            "/v1/billers/s1/bills/T2/waive",
            json={"amount": "5.50", "reason": "助学减免"},
            headers=api.auth("s1", **{"Idempotency-Key": "waive-T2-once"}),
        )

    first, again = waive(), waive()
    assert first.status_code == again.status_code == 200  # type: ignore[attr-defined]
    assert again.json() == first.json()  # type: ignore[attr-defined]
    assert again.headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    assert api.engine.bill("s1", "T2").waived_fen == 550


def test_a_waiver_without_an_idempotency_key_is_refused_and_changes_nothing(api: Api) -> None:
    answer = api.client.post(
        "/v1/billers/s1/bills/T2/waive",
        json={"amount": "5.50", "reason": "助学减免"},
        headers=api.auth("s1"),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Idempotency-Key: Field required"
    assert api.engine.bill("s1", "T2").waived_fen == 0


def test_lookup_by_identifier_shows_only_the_callers_bills_with_personal_data_masked(
    api: Api,
) -> None:
    mine = api.client.get("/v1/lookup", params={"identifier": "2024001"}, headers=api.auth("s1"))
    assert [(h["biller_code"], h["bill"]["bill_no"]) for h in mine.json()] == [("s1", "T1")]
    office = api.client.get(
        "/v1/lookup", params={"identifier": "2024001"}, headers=api.auth("office")
    )
    assert sorted(h["biller_code"] for h in office.json()) == ["s1", "w2"]
    api.client.post("/v1/billers/s1/bills", json=NEW_BILL, headers=api.auth("s1"))
    hit = api.client.get(
        "/v1/lookup", params={"identifier": "2024009"}, headers=api.auth("s1")
    ).json()[0]
    assert hit["payer"]["name"] == "张*"


def test_lookup_without_an_identifier_is_refused_naming_it(api: Api) -> None:
    problem = api.client.get("/v1/lookup", headers=api.auth("s1")).json()
    assert problem["status"] == 422 and problem["detail"] == "identifier: Field required"


def test_billers_list_shows_a_biller_only_itself_and_the_back_office_everyone(api: Api) -> None:
    own = api.client.get("/v1/billers", headers=api.auth("s1")).json()
    every = api.client.get("/v1/billers", headers=api.auth("office")).json()
    assert [b["code"] for b in own] == ["s1"]
    assert sorted(b["code"] for b in every) == ["s1", "w2"]
    assert (
        api.client.get("/v1/billers/w2", headers=api.auth("office")).json()["name"] == "自来水公司"
    )
