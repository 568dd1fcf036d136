"""归档 and 四性检测 (GB/T 18894-2016, DA/T 13, DA/T 70-2018): a closed case is filed with its 档号
and 保管期限 after the four-property check passes; numbers are continuous and unique under
concurrent filings; the retention of every stored version is extended to the 保管期限; and a
check that finds one planted defect names exactly that item."""
from __future__ import annotations

import datetime as dt
import io
import json
import subprocess

import pytest
from sqlalchemy import select, update

from archive.demo.documents import make_pdf
from archive.models import ArchivalCheck, ArchivalFile, AuditEntry, Document
from tests.conftest import authorize, client_as, concurrently, drain, new_case, upload

# one document per required form of a general-procedure penalty case, filing to closing
FORMS = [("filing", "filing_approval", "立案审批表"), ("investigation", "inquiry_record", "询问笔录"),
         ("review", "legal_review_opinion", "法制审核意见书"), ("decision", "penalty_decision", "行政处罚决定书"),
         ("decision", "service_receipt", "送达回证"), ("execution", "fine_receipt", "罚没款收据"),
         ("closing", "closing_report", "结案报告")]
VIRUS = make_pdf("送达回证", ["这份文件的 MD5 被测试自己的病毒特征库列为病毒（并非真正的病毒）。"])


@pytest.fixture
def clam_db(tmp_path_factory):
    """A ClamAV signature database of the tests' own (sigtool, never the network): it names one file."""
    where = tmp_path_factory.mktemp("clamav")
    sample = where / "test-virus.pdf"
    sample.write_bytes(VIRUS)
    out = subprocess.run(["sigtool", "--md5", str(sample)], capture_output=True, text=True, check=True).stdout
    db = where / "archive-test.hdb"
    db.write_text(out.strip().rsplit(":", 1)[0] + ":Archive.Test.Signature\n")
    return db


@pytest.fixture
def world(make_app, clam_db):
    app = make_app(CLAMAV_DB=str(clam_db))
    authorize(app)
    return app, app.extensions["archive"], app.test_client()


def closed_case(client, number: str, skip: str | None = None, replace: dict | None = None, **extra) -> dict:
    case = new_case(client, number=number, **extra)
    for stage, form, title in FORMS:
        if form == skip:
            continue
        data = (replace or {}).get(form) or make_pdf(title, [f"{number}：{title}。"])
        r = upload(client, case["id"], data, filename=f"{title}.pdf", stage=stage, form=form)
        assert r.status_code == 201, r.get_json()
    if skip == "closing_report":  # the stage itself is recorded
        from tests.conftest import ensure_stage

        ensure_stage(client, case["id"], "closing")
    return case


def _file(app, case_id, who="clerk_a"):
    return client_as(app, who).post(f"/api/cases/{case_id}/archive")


def _failed(body) -> list[str]:
    return sorted({line.split(" ", 1)[0] for line in body["errors"]["check"]})


def test_a_closed_case_is_filed_with_its_number_retention_and_report(world):
    app, archive, client = world
    case = closed_case(client, "津武市监罚〔2026〕301号")
    drain(archive)
    assert _file(app, case["id"], "district_a").status_code == 403  # the agency files its own cases
    r = _file(app, case["id"])
    body = r.get_json()
    assert r.status_code == 201, body
    assert body["archival_no"] == "A-SJJ-ZF·2026-D30-0001" and body["piece"] == 1
    assert (body["retention"], body["retention_name"], body["retain_until"]) == ("D30", "定期30年", "2056-12-31")
    check = body["check"]
    assert check["passed"] and check["phase"] == "filing" and check["archival_no"] == body["archival_no"]
    ids = {i["id"] for i in check["items"]}
    assert {"GD-1-1", "GD-1-2", "GD-1-3", "GD-1-4", "GD-1-5", "GD-2-1", "GD-2-2", "GD-2-3", "GD-2-4", "GD-2-5",
            "GD-3-1", "GD-3-2", "GD-3-3", "GD-3-4", "GD-4-1", "GD-4-2", "GD-4-3"} <= ids
    assert {i["result"] for i in check["items"]} <= {"通过", "不适用"}
    virus = next(i for i in check["items"] if i["id"] == "GD-4-1")
    assert virus["result"] == "通过" and "ClamAV" in virus["reason"]
    assert _file(app, case["id"]).status_code == 409  # filed once
    # the metadata kept with the file: the GB/T 18894 minimum set for each document
    with archive.sessions() as s:
        row = s.get(ArchivalFile, case["id"])
        meta = json.loads(row.metadata_json)
        assert len(meta) == len(FORMS)
        one = next(iter(meta.values()))
        for name in ("题名", "文件编号", "责任者", "日期", "保管期限", "密级", "档号", "格式信息", "计算机文件名",
                     "计算机文件大小", "文档创建程序", "数字摘要"):
            assert one[name] not in (None, ""), name
        assert one["档号"] == body["archival_no"] and one["保管期限"] == "定期30年" and "SHA-256:" in one["数字摘要"]
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "case.archive")).target_id == case["id"]
        docs = s.scalars(select(Document).where(Document.case_id == case["id"])).all()
    # the retention of every stored version now covers the 保管期限
    drain(archive)
    end = dt.datetime(2057, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    for d in docs:
        assert archive.store.stat(d.object_key, d.version_id).retain_until >= end, d.filename
    checks = client_as(app, "district_a").get(f"/api/cases/{case['id']}/checks").get_json()["checks"]
    assert len(checks) == 1 and checks[0]["passed"]
    assert client_as(app, "clerk_b").get(f"/api/cases/{case['id']}/checks").status_code == 404


def test_a_case_not_closed_or_failing_is_not_filed(world):
    app, archive, client = world
    case = new_case(client, number="津武市监罚〔2026〕302号")
    upload(client, case["id"], make_pdf("立案审批表", ["立案"]), filename="立案.pdf", stage="filing",
           form="filing_approval")
    r = _file(app, case["id"])
    assert r.status_code == 422 and "结案" in r.get_data(as_text=True)
    with archive.sessions() as s:
        assert s.get(ArchivalFile, case["id"]) is None


def test_concurrent_filings_get_distinct_consecutive_numbers(make_app):
    app = make_app(CLAMSCAN="off")
    authorize(app)
    archive, client = app.extensions["archive"], app.test_client()
    cases = [closed_case(client, f"津武市监罚〔2026〕{400 + i}号") for i in range(6)]
    drain(archive)
    results = concurrently(len(cases), lambda i: _file(app, cases[i]["id"]))
    assert [getattr(r, "status_code", r) for r in results] == [201] * len(cases)
    numbers = sorted(r.get_json()["piece"] for r in results)
    assert numbers == list(range(1, len(cases) + 1))  # no duplicate, no gap
    assert len({r.get_json()["archival_no"] for r in results}) == len(cases)


@pytest.mark.parametrize("defect, item", [
    ("changed_byte", "1-1"), ("missing_form", "2-1"), ("encrypted", "3-3"), ("virus", "4-1"), ("audit", "4-3")])
def test_one_planted_defect_fails_exactly_its_item_at_filing(world, defect, item):
    from pypdf import PdfReader, PdfWriter

    app, archive, client = world
    replace, skip = {}, None
    if defect == "encrypted":
        w = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("法制审核意见书", ["同意处罚。"]))))
        w.encrypt(user_password="", owner_password="owner-secret")
        out = io.BytesIO()
        w.write(out)
        replace["legal_review_opinion"] = out.getvalue()
    elif defect == "virus":
        replace["service_receipt"] = VIRUS
    elif defect == "missing_form":
        skip = "service_receipt"
    case = closed_case(client, "津武市监罚〔2026〕310号", skip=skip, replace=replace)
    drain(archive)
    if defect == "changed_byte":
        with archive.sessions() as s:
            doc = s.scalars(select(Document).where(Document.case_id == case["id"])).first()
            flipped = ("0" if doc.sha256[-1] != "0" else "1")
            s.execute(update(Document).where(Document.id == doc.id).values(sha256=doc.sha256[:-1] + flipped))
            s.commit()
    if defect == "audit":  # someone edits the audit entry of one upload of the case in the database
        with archive.sessions() as s:
            doc_id = s.scalars(select(Document.id).where(Document.case_id == case["id"])).first()
            s.execute(update(AuditEntry).where(AuditEntry.action == "document.upload", AuditEntry.target_id == doc_id)
                      .values(detail='{"filename": "改过.pdf"}'))
            s.commit()
    r = _file(app, case["id"])
    assert r.status_code == 422, r.get_json()
    assert _failed(r.get_json()) == [f"GD-{item}"], r.get_json()
    with archive.sessions() as s:
        assert s.get(ArchivalFile, case["id"]) is None
        kept = s.scalars(select(ArchivalCheck).where(ArchivalCheck.case_id == case["id"])).all()
    assert len(kept) == 1 and not kept[0].passed  # the failing report is kept too


@pytest.mark.parametrize("defect, item", [("gap", "2-2"), ("retention", "4-2")])
def test_one_planted_defect_fails_exactly_its_item_while_kept(world, defect, item):
    from archive.services import archival
    from archive.services.fourchecks import Checker, scan_settings

    app, archive, client = world
    first = closed_case(client, "津武市监罚〔2026〕320号")
    second = closed_case(client, "津武市监罚〔2026〕321号")
    drain(archive)
    assert _file(app, first["id"]).status_code == 201 and _file(app, second["id"]).status_code == 201
    drain(archive)
    with archive.sessions() as s:
        if defect == "gap":
            s.execute(update(ArchivalFile).where(ArchivalFile.case_id == first["id"]).values(piece=7))
        else:
            s.execute(update(ArchivalFile).where(ArchivalFile.case_id == second["id"]).values(
                retain_until=dt.date(2199, 12, 31)))  # longer than the versions are retained
        s.commit()
        case = s.get(archival.Case, second["id"])
        checker = Checker(s, archive.store, archival.load_rules(), scan_settings(archive.config), "keeping",
                          dt.datetime.now(dt.timezone.utc), 100)
        report = checker.run(case, s.get(ArchivalFile, second["id"]))
    assert sorted({i.id for i in report.failures}) == [f"CB-{item}"], [(i.id, i.reason) for i in report.failures]


def test_a_transfer_package_is_verified_from_itself_alone_and_accepted(world, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from archive.cli import main
    from archive.services.transfer import verify_package

    app, archive, client = world
    cases = [closed_case(client, f"津武市监罚〔2026〕{330 + i}号") for i in range(2)]
    drain(archive)
    for c in cases:
        assert _file(app, c["id"]).status_code == 201
    drain(archive)
    for key in ("DATA_DIR", "DATABASE_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET", "CLAMAV_DB"):
        monkeypatch.setenv("ARCHIVE_" + key, str(archive.config[key]))
    out = tmp_path / "package"
    r = CliRunner().invoke(main, ["transfer", "export", "--agency", "A-SJJ", "--year", "2026", "--out", str(out),
                                  "--by", "wq_fzb"])
    assert r.exit_code == 0 and "exported 2 cases, 14 files" in r.output, r.output
    data = out / "data"
    assert (out / "bagit.txt").is_file() and (out / "manifest-sha256.txt").is_file()
    assert (data / "移交清单.xlsx").is_file() and (data / "移交清单.pdf").read_bytes()[:5] == b"%PDF-"
    folder = data / "A-SJJ-ZF·2026-D30-0001"
    xml = sorted((folder / "元数据").iterdir())[0].read_text(encoding="utf-8")
    assert "<题名>" in xml and "<档号>A-SJJ-ZF·2026-D30-0001</档号>" in xml and '算法="SM3"' in xml
    assert json.loads((folder / "四性检测.json").read_text(encoding="utf-8"))["phase"] == "transfer"
    assert (data / "audit" / "entries.jsonl").read_text(encoding="utf-8").count("document.upload") == 14
    # the archives verify it alone: everything passes
    report = verify_package(out)
    assert report.passed, report.items
    assert {i for i, _, _ in report.items} == {"YJ-1-1", "YJ-1-2", "YJ-1-3", "YJ-2-1", "YJ-2-3", "YJ-2-5", "YJ-4-1"}
    assert ("YJ-1-3", "不适用") in [(i, r) for i, r, _ in report.items]  # no TSA configured here
    r = CliRunner().invoke(main, ["transfer", "verify", str(out)])
    assert r.exit_code == 0 and "package verified" in r.output
    # a byte changed in the package is found
    spoiled = tmp_path / "spoiled"
    import shutil

    shutil.copytree(out, spoiled)
    original = sorted((spoiled / "data" / "A-SJJ-ZF·2026-D30-0002" / "原件").iterdir())[0]
    body = bytearray(original.read_bytes())
    body[-10] ^= 1
    original.write_bytes(bytes(body))
    bad = verify_package(spoiled)
    assert not bad.passed and bad.items[0][0] == "YJ-1-1" and bad.items[0][1] == "不通过"
    assert CliRunner().invoke(main, ["transfer", "verify", str(spoiled)]).exit_code == 1
    # accepted: the cases are 已移交 and nothing more is written to them
    r = CliRunner().invoke(main, ["transfer", "accept", str(out), "--by", "市档案馆"])
    assert r.exit_code == 0 and "2 cases marked" in r.output, r.output
    with archive.sessions() as s:
        assert {f.status for f in s.scalars(select(ArchivalFile))} == {"transferred"}
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"archive.transfer_export", "archive.transfer_accept"} <= actions
    refused = upload(client, cases[0]["id"], make_pdf("补充材料", ["补充"]), filename="补充.pdf", stage="closing",
                     form="closing_report")
    assert refused.status_code == 409 and "已归档" in refused.get_json()["message"]


def test_the_agency_edits_the_metadata_before_filing_and_not_after(world):
    app, archive, client = world
    case = closed_case(client, "津武市监罚〔2026〕340号")
    drain(archive)
    with archive.sessions() as s:
        doc_id = s.scalars(select(Document.id).where(Document.case_id == case["id"], Document.form_code ==
                                                     "penalty_decision")).one()
    clerk = client_as(app, "clerk_a")
    meta = clerk.get(f"/api/documents/{doc_id}/metadata").get_json()
    assert not meta["filed"] and meta["metadata"]["题名"].startswith("行政处罚决定书") and meta["metadata"]["密级"] == "非密"
    bad = clerk.put(f"/api/documents/{doc_id}/metadata", json={"密级": "保密", "档号": "X"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"密级", "档号"}
    assert client_as(app, "district_a").put(f"/api/documents/{doc_id}/metadata", json={"题名": "x"}).status_code == 403
    # two clerks setting it at the same moment: one row, no error (the unique constraint decides)
    results = concurrently(4, lambda i: client_as(app, "clerk_a").put(
        f"/api/documents/{doc_id}/metadata", json={"题名": f"津武市监罚〔2026〕340号行政处罚决定书（{i}）"}).status_code)
    assert results == [200] * 4, results
    r = clerk.put(f"/api/documents/{doc_id}/metadata", json={"题名": "津武市监罚〔2026〕340号行政处罚决定书", "密级": "秘密"})
    assert r.status_code == 200 and r.get_json()["metadata"]["密级"] == "秘密"
    assert _file(app, case["id"]).status_code == 201
    kept = clerk.get(f"/api/documents/{doc_id}/metadata").get_json()
    assert kept["filed"] and kept["metadata"]["题名"] == "津武市监罚〔2026〕340号行政处罚决定书"
    assert kept["metadata"]["密级"] == "秘密" and kept["metadata"]["档号"].startswith("A-SJJ-ZF·2026-")
    assert clerk.put(f"/api/documents/{doc_id}/metadata", json={"题名": "改"}).status_code == 409
