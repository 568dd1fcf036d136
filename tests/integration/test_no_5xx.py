"""No input to any route answers 5xx: the extreme values found by hand, then hypothesis over
every route of the URL map (path parameters, query strings, JSON and form bodies)."""
from __future__ import annotations

import json
import os
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from click.testing import CliRunner

from tests.conftest import client_as, new_case, record_stage, upload

FAR = "0001-01-01T00:00+14:00"


@pytest.fixture
def known(app, client):
    case = new_case(client)
    assert record_stage(client, case["id"], "decision", "2026-03-20T10:00:00+08:00").status_code == 201
    doc = upload(client, case["id"], b"%PDF-1.4 not really").get_json()
    return {"case_id": case["id"], "doc_id": doc["id"]}


def one_shape(r) -> None:
    body = r.get_json()
    assert body is not None and set(body) >= {"code", "status", "message"}, r.data[:200]
    assert body["code"] == r.status_code


def test_the_extreme_values_found_by_hand_answer_4xx(app, known):
    clerk, city = client_as(app, "clerk_a"), client_as(app, "city")
    cid, did = known["case_id"], known["doc_id"]
    cases = [
        (clerk.post("/api/cases", data="[" * 100_000 + "]" * 100_000, content_type="application/json"), 400),
        (clerk.post(f"/api/cases/{cid}/stages", json={"stage": "filing", "completed_at": FAR}), 422),
        (clerk.post(f"/api/cases/{cid}/stages", json={"stage": "decision", "completed_at": "2026-03-20T10:00:00+08:00",
                                                      "fine_amount": 10**30}), 422),
        (client_as(app, "complaints_a").post("/api/complaints", json={
            "received_at": FAR, "complainant": "王某", "text": "x"}), 422),
        (city.get("/api/search", query_string={"q": "罚款", "from": "0001-01-01"}), 422),
        (client_as(app, "auditor").get("/api/audit", query_string={"from": FAR}), 422),
        (city.get(f"/api/documents/{did}/content", query_string={"version": "9" * 20}), 422),
        (city.get(f"/api/documents/{did}/content", query_string={"version": "²"}), 422),
        (city.get("/api/search", query_string={"q": "罚款", "complaint": "1e20"}), 422),
        (city.get("/api/complaints/1e20"), 404),
        (city.get("/api/complaints/" + "9" * 30), 404),
        (city.get("/api/amendments/99999999999"), 404),
        (city.post("/api/cases//stages", json={}), 404),
    ]
    for i, (r, status) in enumerate(cases):
        assert r.status_code == status, (i, r.status_code, r.data[:300])
        one_shape(r)


def test_numbers_typed_into_pages_are_whole_numbers_the_database_holds(app, known):
    """Found by the fuzzer: a 25-digit complaint id reached SQLite (OverflowError, 500), and
    '²' passes ``str.isdigit`` but not ``int``."""
    from archive.numbers import whole

    assert [whole(t) for t in ("42", " 7 ", "²", "٣", "9" * 25, "-1", "", "1e3")] == [42, 7, None, None, None, None, None, None]
    assert whole("2147483648") is None and whole("0", 1) is None and whole("61", 1, 60) is None
    city = client_as(app, "city")
    for complaint in ("9" * 25, "²", "2147483648"):
        assert city.get("/tasks/new", query_string={"complaint": complaint}).status_code == 200
        r = city.post("/tasks/new", data={"complaint": complaint, "due_days": "²", "subject": "核查", "text": "x"})
        assert r.status_code == 422 and "请填写工作日数" in r.get_data(as_text=True)


def test_a_missing_form_field_is_named_at_one_level(app, known):
    r = client_as(app, "clerk_a").post(f"/api/cases/{known['case_id']}/documents", data={
        "stage": "decision", "file": (__import__("io").BytesIO(b"x"), "a.pdf")}, content_type="multipart/form-data")
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["form"]
    assert isinstance(r.get_json()["errors"]["form"], list)


def test_tokens_are_issued_for_one_day_or_more(app, archive, tokens):
    from archive.cli import main

    env = {"ARCHIVE_DATABASE_URL": archive.config["DATABASE_URL"], "ARCHIVE_DATA_DIR": archive.config["DATA_DIR"]}
    for days in ("0", "-3"):
        r = CliRunner().invoke(main, ["tokens", "issue", "clerk_a", "--days", days], env=env)
        assert r.exit_code == 2 and "1<=x<=3650" in r.output.replace(" ", ""), r.output
    ok = CliRunner().invoke(main, ["tokens", "issue", "clerk_a", "--days", "1"], env=env)
    assert ok.exit_code == 0 and re.search(r"arc_\w+_", ok.output), ok.output


# -- every route, hypothesis ------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from([FAR, "9999-12-31T23:59:59-14:00", "2026-02-30", "1e20", "²", "-1", "0", "",
                     "\x00", "A-SJJ", "120114", "penalty", "decision", "../../etc", "%", "′"]))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                    max_leaves=12)
PARAM = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"),
                          min_size=1, max_size=40),
                  st.sampled_from(["1e20", "9" * 25, "-1", "0", "²", "%00"]),
                  st.integers(min_value=-10**25, max_value=10**25).map(str))
QUERY = st.dictionaries(st.sampled_from(["q", "agency", "kind", "stage", "form", "from", "to", "sort", "page",
                                         "per_page", "versions", "complaint", "status", "level", "rule", "plan",
                                         "mine", "format", "version", "number", "document", "actor", "target_id",
                                         "opened_from", "opened_to", "open_warnings", "late", "verify"]),
                        st.one_of(st.text(max_size=20), st.sampled_from(["1e20", "9" * 25, FAR, "-5", "²", ""])),
                        max_size=4)


# The fields the pages' forms post, so that drawn form bodies reach their validation.
FORM_FIELDS = ["number", "agency", "kind", "procedure", "opened_on", "party_id", "party_type", "sector", "stage",
               "completed_at", "penalty_types", "fine_amount", "days", "start_on", "end_on", "approved_by", "reason",
               "note", "decision", "action", "points_C2", "reason_C2", "veto_V1", "veto_reason_V1", "seed", "name",
               "period_start", "period_end", "kinds", "district", "count", "rate", "mode", "min_per_stratum",
               "max_per_stratum", "reviewers_per_file", "max_load", "review_deadline", "received_at", "complainant",
               "contact", "case_numbers", "text", "done_on", "case_id", "case_number", "handling", "outcome", "back",
               "review", "scope", "form"]
FORM = st.dictionaries(st.sampled_from(FORM_FIELDS),
                       st.one_of(st.text(max_size=20), st.sampled_from([FAR, "2026-02-30", "1e20", "9" * 25, "-1", "0",
                                                                        "", "²", "submit", "approve", "extension",
                                                                        "suspension", "decision", "2026-03-02T10:00"])),
                       max_size=10)


def _routes(app):
    """Every API route and every page (the pages take the same bad input, as forms)."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static") or rule.rule in ("/login", "/logout"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule, method))
    return out


@pytest.mark.parametrize("who", ["city", "clerk_a"])
def test_no_input_to_any_route_answers_5xx(app, known, who):
    routes = _routes(app)
    assert len(routes) >= 80
    c = client_as(app, who)

    @settings(max_examples=int(os.environ.get("ARCHIVE_FUZZ_EXAMPLES", "6")), deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(pick=st.data(), query=QUERY, body=JSON, form=FORM, real_ids=st.booleans(), as_form=st.booleans())
    def check(pick, query, body, form, real_ids, as_form):
        for rule, method in routes:
            values = {}
            for arg in rule.arguments:
                if real_ids and arg in ("case_id", "doc_id"):
                    values[arg] = known["case_id" if arg == "case_id" else "doc_id"]
                else:
                    values[arg] = quote(pick.draw(PARAM), safe="")
            path = rule.rule
            for arg, value in values.items():
                path = re.sub(r"<(?:[^:<>]+:)?" + arg + ">", lambda _m: value or "x", path)
            kwargs = {"query_string": query}
            if method == "POST":
                if as_form or not rule.rule.startswith("/api/"):
                    kwargs["data"] = {**{k: json.dumps(v) if not isinstance(v, str) else v
                                         for k, v in (body.items() if isinstance(body, dict) else {"v": body}.items())},
                                      **form}
                else:
                    kwargs["data"] = json.dumps(body)
                    kwargs["content_type"] = "application/json"
            r = c.open(path, method=method, **kwargs)
            assert r.status_code < 500, (method, path, query, body, r.status_code, r.data[:300])

    check()


def test_a_nul_in_a_path_or_query_is_refused_before_any_database_sees_it(app, known):
    c = client_as(app, "city")
    for path in ("/api/cases/%00", "/cases/%00", "/documents/a%00b", "/api/complaints/1/attachments/%00"):
        assert c.get(path).status_code == 404, path
    for path in ("/api/search?q=%00", "/search?q=a%00", "/cases?number=%00", "/api/cases?number=%00"):
        assert c.get(path).status_code == 400, path


def test_a_nul_in_a_body_is_refused_on_both_databases(app, known):
    c = client_as(app, "clerk_a")
    r = c.post("/api/cases", json={"number": "a\x00", "agency": "A-SJJ", "kind": "penalty", "opened_on": "2026-03-02"})
    assert r.status_code == 400 and r.get_json()["errors"] == {"number": ["NUL (0x00) is not allowed"]}
    r = c.post("/cases/new", data={"number": "a\x00", "agency": "A-SJJ", "kind": "penalty", "opened_on": "2026-03-02"})
    assert r.status_code == 400 and "请求中含有不允许的字符" in r.get_data(as_text=True)
    r = client_as(app, "complaints_a").post("/api/complaints", json={
        "received_at": "2026-11-01T09:00:00+08:00", "complainant": "x", "text": ["ok", {"k": "y\x00"}]})
    assert r.status_code == 400
