"""OCR end to end, on the real engine (RapidOCR PP-OCRv4), SeaweedFS, SQLite and PostgreSQL:
scans and photographs become searchable, the upload never waits for OCR, hostile and broken
images are kept with the reason, slow or crashing pages cost only themselves, and the
``archive ocr`` command reads documents stored before OCR existed."""
from __future__ import annotations

import hashlib
import io
import re
import struct
import time
import zlib

from PIL import Image
from sqlalchemy import func, select

from archive.demo.documents import make_docx
from archive.demo.scans import image_pdf, photo, png, render_page
from archive.models import Document, Job
from archive.ocr.jobs import claim, drain_ocr, enqueue_ocr
from tests.conftest import client_as, drain, new_case, upload
from tests.integration.test_hardening import concurrently

RECEIPT = ("送达回证", ["送达文书：行政处罚决定书（津武市监罚〔2026〕12号）", "受送达人：天津宏泰食品有限公司",
                       "送达地点：当事人经营场所。送达方式：直接送达。", "送达人：王建国、刘晓燕。受送达人签收：（签名）"])
RECORD = ("现场检查笔录", ["检查地点：天津市武清区杨村街道光明道十八号。检查人员已出示执法证件。",
                         "检查情况：冷藏柜内存放超过保质期的婴幼儿配方奶粉六罐，已予以扣押。"])


def half_page(title_paras, dpi=300):
    img, _ = render_page(*title_paras, dpi=dpi, height_inches=4.2)
    return img


def search(client, q):
    r = client.get("/api/search", query_string={"q": q})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def doc_json(client, doc_id):
    return client.get(f"/api/documents/{doc_id}").get_json()


def run_ocr(archive) -> int:
    """Drain the OCR jobs, then the index updates they queued."""
    n = drain_ocr(archive.sessions, archive.store, archive.ocr_runner)
    drain(archive)
    return n


def with_waiting_scan(make_app, **config):
    """A new archive (``config`` overrides) with the city office's client and one scanned
    service receipt uploaded and indexed by name, its OCR job waiting: (archive, client, scan)."""
    from tests.conftest import authorize

    app = make_app(**config)
    archive = app.extensions["archive"]
    authorize(app)
    client = client_as(app, "city")
    case = new_case(client)
    scan = upload(client, case["id"], image_pdf([half_page(RECEIPT)]), filename="扫描件.pdf",
                  form="service_receipt").get_json()
    drain(archive)
    return archive, client, scan


def test_a_scanned_pdf_and_a_photograph_become_searchable_by_a_printed_phrase(app, archive, client, orgs):
    case = new_case(client)
    scan = upload(client, case["id"], image_pdf([half_page(RECEIPT)]), filename="送达回证（扫描件）.pdf",
                  form="service_receipt")
    assert scan.status_code == 201, scan.get_json()
    shot = upload(client, case["id"], photo(half_page(RECORD)), filename="现场检查笔录照片.jpg",
                  stage="investigation", form="onsite_record")
    assert shot.status_code == 201, shot.get_json()
    scan, shot = scan.get_json(), shot.get_json()
    assert scan["text_status"] == shot["text_status"] == "pending"

    drain(archive)  # extraction finds no text: indexed by name now, queued for OCR
    for d in (scan, shot):
        got = doc_json(client, d["id"])
        assert got["text_status"] == "ocr_pending", got
    assert search(client, "受送达人签收")["total"] == 0
    assert search(client, "送达回证")["total"] == 1  # the file name is searchable at once

    assert run_ocr(archive) == 2
    receipt = search(client, "受送达人签收")
    assert [h["document_id"] for h in receipt["hits"]] == [scan["id"]]
    assert "受送达人签收" in re.sub(r"</?mark>", "", " ".join(sum(receipt["hits"][0]["highlights"].values(), [])))
    assert "<mark>" in " ".join(sum(receipt["hits"][0]["highlights"].values(), []))
    milk = search(client, "婴幼儿配方奶粉")
    assert [h["document_id"] for h in milk["hits"]] == [shot["id"]]
    assert search(client, "杨村街道光明道")["total"] == 1
    for d in (scan, shot):
        got = doc_json(client, d["id"])
        assert got["text_status"] == "ocr" and got["ocr_confidence"] > 0.8, got
        assert "PP-OCRv4" in got["ocr_engine"] and "平均置信度" in got["text_reason"]

    # the document page shows the recognised text and its confidence; the original is unchanged
    page = client_as(app, "city").get(f"/documents/{scan['id']}").get_data(as_text=True)
    assert "识别文字" in page and "识别置信度" in page and "受送达人签收" in page
    original = client.get(f"/api/documents/{scan['id']}/content").data
    assert hashlib.sha256(original).hexdigest() == scan["sha256"]


def test_a_page_scanned_sideways_or_upside_down_is_read(app, archive, client, orgs):
    case = new_case(client)
    page = half_page(RECORD)
    docs = {}
    # (the clockwise turn that makes the page upright, how the page was scanned)
    for turn, transpose in ((90, Image.Transpose.ROTATE_90), (270, Image.Transpose.ROTATE_270),
                            (180, Image.Transpose.ROTATE_180)):
        r = upload(client, case["id"], png(page.transpose(transpose)), filename=f"笔录{turn}.png",
                   stage="investigation", form="onsite_record")
        assert r.status_code == 201
        docs[turn] = r.get_json()["id"]
    drain(archive)
    run_ocr(archive)
    for turn, doc_id in docs.items():
        got = doc_json(client, doc_id)
        assert got["text_status"] == "ocr", got
        assert f"旋转 {turn}°" in got["text_reason"]
        with archive.sessions() as s:
            text = s.get(Document, doc_id).text_content
        # the lines come out in reading order, not reversed
        assert text.index("检查地点") < text.index("检查情况"), text
    assert search(client, "冷藏柜内存放超过保质期")["total"] == 3


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 30_000) -> bytes:
    """A real PNG of side × side white pixels (1 bit each): about 100 KB on disk, 900 million
    pixels decoded."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    z = zlib.compressobj(9)
    data = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b""))


def corrupt_png() -> bytes:
    """A PNG whose header is fine and whose pixel data is noise."""
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 800, 600, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", bytes(range(256)) * 8) + _png_chunk(b"IEND", b""))


def test_a_decompression_bomb_is_refused_and_a_corrupt_image_failed_both_kept(app, archive, client, orgs):
    case = new_case(client)
    bomb, broken = png_bomb(), corrupt_png()
    assert len(bomb) < 1_000_000
    ids = {}
    for name, data in (("bomb", bomb), ("broken", broken)):
        r = upload(client, case["id"], data, filename=f"{name}.png", stage="investigation", form="onsite_record")
        assert r.status_code == 201, r.get_json()
        ids[name] = r.get_json()["id"]
    drain(archive)
    assert run_ocr(archive) == 2
    got = doc_json(client, ids["bomb"])
    assert got["text_status"] == "refused"
    assert "30000×30000" in got["text_reason"] and "识别上限" in got["text_reason"]
    got = doc_json(client, ids["broken"])
    assert got["text_status"] == "failed" and "原件已保存" in got["text_reason"], got
    # both are kept byte for byte, and the queue holds nothing for them any more
    for name, data in (("bomb", bomb), ("broken", broken)):
        assert client.get(f"/api/documents/{ids[name]}/content").data == data
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.done_at.is_(None))) == 0


def test_a_hanging_page_and_a_crashing_page_cost_only_themselves(make_app):
    """Page 1 hangs, page 2 kills the OCR process, page 3 is read; page 4 is over the page limit."""
    from tests.conftest import authorize
    from tests.ocr_engines import CRASH_WIDTH, SLOW_WIDTH

    app = make_app(OCR_ENGINE="tests.ocr_engines:Misbehaving", OCR_PAGE_SECONDS=20, OCR_MAX_PAGES=3)
    archive = app.extensions["archive"]
    authorize(app)
    client = client_as(app, "city")
    case = new_case(client)
    frames = [Image.new("L", (SLOW_WIDTH, 800), 255), Image.new("L", (CRASH_WIDTH, 800), 255),
              half_page(RECEIPT), Image.new("L", (500, 500), 255)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    r = upload(client, case["id"], buf.getvalue(), filename="送达回证.tif", form="service_receipt")
    assert r.status_code == 201
    doc_id = r.get_json()["id"]
    drain(archive)
    started = time.monotonic()
    try:
        run_ocr(archive)
    finally:
        archive.ocr_runner.close()
    assert time.monotonic() - started < 300
    got = doc_json(client, doc_id)
    assert got["text_status"] == "ocr", got
    reason = got["text_reason"]
    assert "第 1 页超过 20 秒未识别完" in reason
    assert "第 2 页使识别进程中止" in reason
    assert "第 4–4 页超出每份文件 3 页的识别上限" in reason
    assert search(client, "受送达人签收")["total"] == 1


def test_the_upload_and_the_index_never_wait_for_ocr(make_app, tmp_path, monkeypatch):
    """OCR is held up behind a gate: uploads are answered and other documents are indexed
    meanwhile; when the gate opens, the scan becomes searchable."""
    from archive.ocr.jobs import OcrWorker

    gate = tmp_path / "gate"
    monkeypatch.setenv("ARCHIVE_TEST_OCR_GATE", str(gate))
    archive, client, scan = with_waiting_scan(make_app, OCR_ENGINE="tests.ocr_engines:Gated")
    case_id = scan["case_id"]
    worker = OcrWorker(archive.sessions, archive.store, archive.ocr_runner, poll=0.1)
    worker.start()
    try:
        # the OCR worker has taken the job and is held at the gate
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with archive.sessions() as s:
                job = s.scalars(select(Job).where(Job.kind == "ocr")).one()
                if job.lease_holder is not None:  # claimed (a claim sets no next attempt)
                    break
            time.sleep(0.1)
        began = time.monotonic()
        other = upload(client, case_id, make_docx("询问笔录", ["问：是否销售过期奶粉？答：是。"]),
                       filename="询问笔录.docx", stage="investigation", form="inquiry_record")
        assert other.status_code == 201
        drain(archive)
        assert time.monotonic() - began < 30
        assert search(client, "销售过期奶粉")["total"] == 1  # indexed while OCR is held
        with archive.sessions() as s:
            assert s.scalars(select(Job).where(Job.kind == "ocr")).one().done_at is None
            assert s.get(Document, scan["id"]).text_status == "ocr_pending"
        gate.touch()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with archive.sessions() as s:
                if s.get(Document, scan["id"]).text_status == "ocr":
                    break
            time.sleep(0.2)
        drain(archive)
        assert search(client, "受送达人签收")["total"] == 1
    finally:
        worker.stop()
        worker.join(10)


def test_one_open_ocr_job_per_document_and_one_claim_under_concurrency(archive, client, orgs):
    """Eight requests queue OCR for one document at once: one job. Eight workers claim it at
    once: one lease."""
    case = new_case(client)
    doc = upload(client, case["id"], png(Image.new("L", (50, 50), 255)), filename="空白.png",
                 stage="investigation", form="onsite_record").get_json()

    def queue(_i):
        with archive.sessions() as s:
            n = enqueue_ocr(s, [doc["id"]])
            s.commit()
            return n

    results = concurrently(8, queue)
    assert not [r for r in results if isinstance(r, Exception)], results
    with archive.sessions() as s:
        jobs = s.scalars(select(Job).where(Job.kind == "ocr", Job.subject == doc["id"])).all()
    assert len(jobs) == 1

    claims = concurrently(8, lambda i: claim(archive.sessions, f"ocr-worker-{i}"))
    won = [c for c in claims if c is not None]
    assert [(c.id, c.subject) for c in won] == [(jobs[0].id, doc["id"])], claims


def test_archive_ocr_reads_documents_stored_before_ocr_existed(make_app, monkeypatch):
    from click.testing import CliRunner

    from archive.cli import main
    from tests.conftest import ACCESS, SECRET

    # as an archive before OCR: scans stay without text
    archive, client, doc = with_waiting_scan(make_app, OCR_ENGINE="off")
    assert doc_json(client, doc["id"])["text_status"] == "no_text_layer"
    assert search(client, "受送达人签收")["total"] == 0

    cfg = archive.config
    for key in ("DATA_DIR", "DATABASE_URL", "S3_ENDPOINT", "S3_BUCKET", "INDEX_DIR"):
        monkeypatch.setenv("ARCHIVE_" + key, str(cfg[key]))
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", SECRET)
    r = CliRunner().invoke(main, ["ocr", "--missing"])
    assert r.exit_code == 0, r.output
    assert "1/1 documents" in r.output and "read 1 of 1 documents (ocr 1)" in r.output
    drain(archive)
    assert search(client, "受送达人签收")["total"] == 1
    # nothing is missing any more; --document reads one again
    assert "read 0 of 0 documents" in CliRunner().invoke(main, ["ocr", "--missing"]).output
    again = CliRunner().invoke(main, ["ocr", "--document", doc["id"]])
    assert again.exit_code == 0 and "read 1 of 1 documents (ocr 1)" in again.output
    assert CliRunner().invoke(main, ["ocr"]).exit_code == 2  # which documents must be said


def test_a_pdf_with_text_and_scanned_pages_gets_only_its_scanned_pages_read(archive, client, orgs):
    """OCR reads the pages without a text layer and keeps the others' own text; a rebuild that
    re-extracts every document keeps what OCR read."""
    from pypdf import PdfReader, PdfWriter

    from archive.demo.documents import make_pdf
    from archive.indexing.queue import reindex

    writer = PdfWriter()
    for part in (make_pdf("行政处罚决定书", ["本机关决定：没收违法所得，并处罚款人民币五万元。"]),
                 image_pdf([half_page(RECEIPT)])):
        writer.append(PdfReader(io.BytesIO(part)))
    buf = io.BytesIO()
    writer.write(buf)
    case = new_case(client)
    doc = upload(client, case["id"], buf.getvalue(), filename="决定书及送达回证.pdf").get_json()
    drain(archive)
    got = doc_json(client, doc["id"])
    assert got["text_status"] == "extracted" and got["page_count"] == 2  # page 1's text, at once
    assert search(client, "并处罚款人民币五万元")["total"] == 1
    assert search(client, "受送达人签收")["total"] == 0
    assert run_ocr(archive) == 1
    got = doc_json(client, doc["id"])
    assert got["text_status"] == "ocr" and "识别 1 页，共 2 页" in got["text_reason"], got
    for phrase in ("并处罚款人民币五万元", "受送达人签收"):
        assert search(client, phrase)["total"] == 1, phrase

    reindex(archive.sessions, archive.store, archive.index, re_extract=True, limits=archive.extract_limits)
    assert doc_json(client, doc["id"])["text_status"] == "ocr"
    assert search(client, "受送达人签收")["total"] == 1
    with archive.sessions() as s:  # and no new OCR job was queued for it
        assert s.scalar(select(func.count()).select_from(Job).where(
            Job.kind == "ocr", Job.done_at.is_(None))) == 0


def test_a_worker_stopped_mid_document_leaves_its_job_to_the_next_and_a_long_read_keeps_its_lease(
        make_app, tmp_path, monkeypatch):
    from archive.ocr.jobs import Lease, OcrWorker
    from archive.ocr.runner import OcrRunner

    gate = tmp_path / "gate"
    monkeypatch.setenv("ARCHIVE_TEST_OCR_GATE", str(gate))
    archive, client, scan = with_waiting_scan(make_app, OCR_ENGINE="tests.ocr_engines:Gated")
    worker = OcrWorker(archive.sessions, archive.store, archive.ocr_runner, poll=0.1)
    worker.start()

    def job():
        with archive.sessions() as s:
            return s.scalars(select(Job).where(Job.kind == "ocr")).one()

    deadline = time.monotonic() + 60
    while job().lease_expires_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
    leased, holder = job().lease_expires_at, job().lease_holder
    assert leased is not None and holder  # taken, and held at the gate
    Lease(archive.sessions, job().id, holder, every=0)()  # a page done: the lease moves on
    assert job().lease_expires_at > leased
    Lease(archive.sessions, job().id, "someone-else", every=0)()  # only its holder renews it
    assert job().lease_holder == holder
    worker.stop()  # e.g. `archive worker` is stopped while the scan is read
    worker.join(20)
    assert not worker.is_alive()
    left = job()
    assert left.done_at is None and left.lease_holder is None and left.next_attempt_at is None
    assert left.attempts == 0
    with archive.sessions() as s:
        assert s.get(Document, scan["id"]).text_status == "ocr_pending"
    gate.touch()
    runner = OcrRunner("tests.ocr_engines:Gated")
    try:
        assert drain_ocr(archive.sessions, archive.store, runner) == 1
    finally:
        runner.close()
    drain(archive)
    assert doc_json(client, scan["id"])["text_status"] == "ocr"
    assert search(client, "受送达人签收")["total"] == 1


def test_an_engine_that_cannot_start_keeps_the_job_for_a_retry(make_app):
    """A missing model or package: the job waits with the error and a back-off; the document
    stays as it was, waiting for OCR."""
    from archive.ocr.jobs import run_one

    archive, client, scan = with_waiting_scan(make_app, OCR_ENGINE="tests.ocr_engines:NoSuchEngine")
    assert run_one(archive.sessions, archive.store, archive.ocr_runner) is False
    with archive.sessions() as s:
        job = s.scalars(select(Job).where(Job.kind == "ocr")).one()
        assert job.done_at is None and job.attempts == 1 and "cannot start" in job.last_error
        assert "NoSuchEngine" in job.last_error and job.next_attempt_at is not None
        assert s.get(Document, scan["id"]).text_status == "ocr_pending"
    assert run_one(archive.sessions, archive.store, archive.ocr_runner) is None  # not due before its back-off


def test_recognised_text_is_made_again_after_a_rebuild_from_storage(make_app, database_url, tmp_path, monkeypatch):
    """OCR text is derived: a catalog rebuilt from the object store alone queues the scans for
    OCR again, and they become searchable as before."""
    from click.testing import CliRunner

    from archive.cli import main
    from tests.conftest import authorize
    from tests.integration.test_write_once import point_cli_at_rebuild, second_database

    archive, client, scan = with_waiting_scan(make_app)
    run_ocr(archive)
    assert search(client, "受送达人签收")["total"] == 1
    with second_database(database_url, tmp_path) as url:
        point_cli_at_rebuild(monkeypatch, archive, url, tmp_path / "rebuilt-index")
        r = CliRunner().invoke(main, ["rebuild", "--from-storage"])
        assert r.exit_code == 0, r.output
        rebuilt_app = make_app(DATABASE_URL=url, S3_BUCKET=archive.config["S3_BUCKET"],
                               INDEX_DIR=str(tmp_path / "rebuilt-index"))
        authorize(rebuilt_app)
        rebuilt, again = rebuilt_app.extensions["archive"], client_as(rebuilt_app, "city")
        assert doc_json(again, scan["id"])["text_status"] == "ocr_pending"
        assert search(again, "受送达人签收")["total"] == 0
        assert run_ocr(rebuilt) == 1
        assert doc_json(again, scan["id"])["text_status"] == "ocr"
        assert search(again, "受送达人签收")["total"] == 1
        rebuilt.engine.dispose()
