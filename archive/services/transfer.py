"""移交: the filed cases of an agency and year as a package the receiving archives verifies
without the archive (GB/T 18894-2016 §10, DA/T 48 / DA/T 93 on packages).

The package is a BagIt bag (RFC 8493, the ``bagit`` library; SHA-256 and SHA-512 manifests):

    data/移交清单.xlsx, data/移交清单.pdf    the register, one row per archival file
    data/transfer.json                      what was exported, by whom, when; the register as data
    data/<档号>/原件/<nn>-<file name>        the originals as stored
    data/<档号>/版式副本/<nn>.pdf             their PDF/A renditions, where made
    data/<档号>/元数据/<nn>.xml               one metadata XML per document (DA/T 46 element names)
    data/<档号>/四性检测.json                 the four-property check run at export (移交与接收 phase)
    data/audit/entries.jsonl                the audit entries of those cases, each with its link
    data/audit/links.jsonl                  (seq, prev_hash, hash, alg) of every entry from the first
                                            of them to the head: the chain they sit in

``verify_package`` re-runs the checks from the package alone: the bag's checksums, each
original's SHA-256 and SM3 against its metadata, the metadata complete, the 档号 well-formed and
unique, the register equal to the contents, each audit entry's hash recomputed and the links
continuous. An accepted transfer marks the cases 已移交: kept, read-only.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.clock import SHANGHAI
from archive.digests import Digests
from archive.errors import ValidationFailed
from archive.models import ArchivalFile, AuditEntry, Case, Organisation, Rendition

SCHEMA = "case-archive/transfer/1"
META_NS = "urn:case-archive:da46"


def _safe(name: str) -> str:
    """A file name safe inside the bag (no directories, no control characters)."""
    name = re.sub(r"[\\/\x00-\x1f]", "_", name).strip(". ") or "file"
    return name[:120]


def metadata_xml(meta: dict[str, Any], agency_name: str, digests: dict[str, str]) -> bytes:
    """One document's metadata with DA/T 46-style Chinese element names."""
    from lxml import etree

    root = etree.Element("电子文件元数据", nsmap={None: META_NS})
    root.set("版本", "DA/T 46-2009")
    etree.SubElement(root, "聚合层次").text = "文件"
    src = etree.SubElement(root, "来源")
    etree.SubElement(src, "立档单位名称").text = agency_name
    no = etree.SubElement(root, "档号")
    etree.SubElement(no, "档号").text = str(meta.get("档号", ""))
    etree.SubElement(no, "件内顺序号").text = str(meta.get("件内顺序号", ""))
    content = etree.SubElement(root, "内容描述")
    for name in ("题名", "文件编号", "责任者", "日期", "密级", "保管期限"):
        etree.SubElement(content, name).text = str(meta.get(name, ""))
    props = etree.SubElement(root, "电子属性")
    for name in ("格式信息", "计算机文件名", "计算机文件大小", "文档创建程序"):
        etree.SubElement(props, name).text = str(meta.get(name, ""))
    for alg, value in digests.items():
        d = etree.SubElement(root, "数字摘要")
        d.set("算法", alg)
        d.text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def read_metadata_xml(data: bytes) -> dict[str, Any]:
    from lxml import etree

    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    out: dict[str, Any] = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or len(el):
            continue
        tag = etree.QName(el).localname
        if tag == "数字摘要":
            out.setdefault("数字摘要", {})[el.get("算法")] = el.text or ""
        else:
            out[tag] = el.text or ""
    return out


@dataclass
class ExportResult:
    path: Path
    cases: list[str]
    files: int
    bytes: int
    failed_checks: list[str] = field(default_factory=list)
    timestamp: str | None = None  # the TSA's time over the tag manifest, or why there is none


def filed_cases(session: Session, agency_code: str, year: int) -> list[ArchivalFile]:
    return list(session.scalars(select(ArchivalFile).where(
        ArchivalFile.agency_code == agency_code, ArchivalFile.year == year, ArchivalFile.status == "filed")
        .order_by(ArchivalFile.retention, ArchivalFile.piece)))


def export_package(session: Session, store, config: dict, agency_code: str, year: int, out: Path, by: str,
                   now: dt.datetime) -> ExportResult:
    """Write the package of the filed cases of ``agency_code`` and ``year`` into ``out`` (a new
    directory). The four-property check runs for each case at the 移交 phase and is kept; a case
    failing it is left out and named (``failed_checks``)."""
    import bagit

    from archive import audit
    from archive.services.archival import _keep
    from archive.services.archivalrules import closed_on, load_rules
    from archive.services.fourchecks import Checker, scan_settings

    if out.exists() and any(out.iterdir()):
        raise ValidationFailed("the package directory is not empty", {"out": ["目录不为空"]})
    out.mkdir(parents=True, exist_ok=True)
    data = out  # bagit moves the payload into data/ when the bag is made
    rules = load_rules(config.get("ARCHIVAL_RULES") or None)
    agency = session.get(Organisation, agency_code)
    agency_name = agency.name if agency else agency_code
    register, case_ids, failed, total_files, total_bytes = [], [], [], 0, 0
    for row in filed_cases(session, agency_code, year):
        case = session.get(Case, row.case_id)
        assert case is not None
        checker = Checker(session, store, rules, scan_settings(config), "transfer", now,
                          int(config.get("RETENTION_PERMANENT_YEARS", 100)))
        report = checker.run(case, row)
        check = _keep(session, case.id, report, by, now)
        audit.append(session, "archive.check", actor=by, target_type="case", target_id=case.id,
                     detail={"phase": "transfer", "passed": report.passed, "check": check.id})
        session.commit()
        if not report.passed:
            failed.append(f"{row.archival_no}：" + "；".join(f"{i.id} {i.reason}" for i in report.failures[:5]))
            continue
        folder = data / _safe(row.archival_no)
        (folder / "原件").mkdir(parents=True)
        (folder / "元数据").mkdir()
        meta_all = json.loads(row.metadata_json)
        docs = sorted(case.documents, key=lambda d: (d.uploaded_at, d.id))
        for n, doc in enumerate(docs, 1):
            target = folder / "原件" / f"{n:02d}-{_safe(doc.filename)}"
            digests = Digests()
            with open(target, "wb") as fh:
                for chunk in store.open(doc.object_key, doc.version_id):
                    digests.update(chunk)
                    fh.write(chunk)
            if digests.sha256 != doc.sha256:
                raise ValidationFailed(f"{doc.filename} changed while it was exported", {"document": [doc.id]})
            total_files += 1
            total_bytes += doc.size
            meta = {**(meta_all.get(doc.id) or {}), "计算机文件名": target.name}
            (folder / "元数据" / f"{n:02d}.xml").write_bytes(metadata_xml(
                meta, agency_name, {"SHA-256": digests.sha256, "SM3": digests.sm3}))
            rendition = session.scalar(select(Rendition).where(Rendition.document_id == doc.id,
                                                               Rendition.source_version_id == doc.version_id,
                                                               Rendition.status == "done"))
            if rendition is not None and rendition.object_key and rendition.version_id:
                (folder / "版式副本").mkdir(exist_ok=True)
                with open(folder / "版式副本" / f"{n:02d}.pdf", "wb") as fh:
                    for chunk in store.open(rendition.object_key, rendition.version_id):
                        fh.write(chunk)
        (folder / "四性检测.json").write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=1),
                                            encoding="utf-8")
        register.append({"档号": row.archival_no, "案号": case.number, "题名": f"{case.party_name}{case.kind == 'penalty' and '行政处罚案卷' or '行政检查案卷'}",
                         "年度": row.year, "保管期限": rules.period_name(row.retention), "件号": row.piece,
                         "文件数": len(docs), "结案日期": str(closed_on(case)), "case_id": case.id})
        case_ids.append(case.id)
    if not register:
        raise ValidationFailed("no filed case passed the check for this agency and year",
                               {"cases": ["没有可移交的已归档案件"] + failed})
    _audit_files(session, data, case_ids)
    body = {"schema": SCHEMA, "agency": agency_code, "agency_name": agency_name, "year": year,
            "exported_at": now.isoformat(), "exported_by": by, "register": register, "left_out": failed,
            "pattern": rules.pattern, "periods": {k: v[0] for k, v in rules.periods.items()},
            "required_metadata": list(rules.required_metadata)}
    (data / "transfer.json").write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    _register_files(data, register, agency_name, year)
    bagit.make_bag(str(out), {"Source-Organization": agency_name, "External-Description":
                              f"{agency_name} {year} 年度行政执法案卷移交包", "Bagging-Date": now.date().isoformat(),
                              "Bag-Software-Agent": "case-archive"}, checksums=["sha256", "sha512"])
    stamped = _stamp(session, config, out, f"{agency_code}:{year}", now)
    audit.append(session, "archive.transfer_export", actor=by, target_type="agency", target_id=agency_code,
                 detail={"year": year, "cases": len(case_ids), "files": total_files, "left_out": len(failed),
                         "tagmanifest_sha256": hashlib.sha256((out / "tagmanifest-sha256.txt").read_bytes()).hexdigest(),
                         "timestamp": stamped})
    session.commit()
    return ExportResult(out, case_ids, total_files, total_bytes, failed, stamped)


def _stamp(session: Session, config: dict, out: Path, subject: str, now: dt.datetime) -> str | None:
    """The tag manifest stamped by the TSA (RFC 3161), the token and the TSA's certificates beside
    it in the package (``timestamp.tsr``, ``timestamp-tsa.pem``); the token kept in the archive too."""
    import shutil

    from archive.services.timestamps import TimestampFailed, keep, request_token, tsa_settings

    settings = tsa_settings(config)
    if settings is None:
        return None
    tag = (out / "tagmanifest-sha256.txt").read_bytes()
    try:
        tsr, gen = request_token(settings, tag)
    except TimestampFailed as exc:
        return f"未加盖时间戳：{exc}"
    (out / "timestamp.tsr").write_bytes(tsr)
    shutil.copyfile(settings.certs, out / "timestamp-tsa.pem")
    keep(session, "transfer", f"{subject}:{hashlib.sha256(tag).hexdigest()}", tag, tsr, gen, now)
    return gen.isoformat()


def _audit_files(session: Session, data: Path, case_ids: list[str]) -> None:
    """The cases' audit entries in full, and the links of the chain from the first of them to the head."""
    from archive.models import Document

    targets = set(case_ids) | set(session.scalars(select(Document.id).where(Document.case_id.in_(case_ids))))
    entries = list(session.scalars(select(AuditEntry).where(AuditEntry.target_id.in_(targets)).order_by(AuditEntry.seq)))
    (data / "audit").mkdir()
    with open(data / "audit" / "entries.jsonl", "w", encoding="utf-8") as fh:
        for e in entries:
            fh.write(json.dumps({"seq": e.seq, "at": e.at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
                                 "actor": e.actor, "role": e.role, "action": e.action, "target_type": e.target_type,
                                 "target_id": e.target_id, "detail": e.detail, "ip": e.ip, "prev_hash": e.prev_hash,
                                 "hash": e.hash, "alg": e.alg}, ensure_ascii=False) + "\n")
    first = entries[0].seq if entries else (session.scalar(select(func.max(AuditEntry.seq))) or 0)
    with open(data / "audit" / "links.jsonl", "w", encoding="utf-8") as fh:
        for seq, prev, h, alg in session.execute(select(AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash,
                                                        AuditEntry.alg).where(AuditEntry.seq >= first)
                                                 .order_by(AuditEntry.seq)):
            fh.write(json.dumps([seq, prev, h, alg]) + "\n")


def _register_files(data: Path, register: list[dict], agency_name: str, year: int) -> None:
    """移交清单 as XLSX and as PDF."""
    from openpyxl import Workbook

    columns = ["档号", "案号", "题名", "年度", "保管期限", "件号", "文件数", "结案日期"]
    wb = Workbook()
    ws = wb.active
    ws.title = "移交清单"
    ws.append([f"{agency_name} {year} 年度电子档案移交清单"])
    ws.append(columns)
    for r in register:
        ws.append([r[c] for c in columns])
    wb.save(data / "移交清单.xlsx")
    from archive.casefile.fonts import cjk_fpdf
    from fpdf.fonts import FontFace

    pdf = cjk_fpdf()
    pdf.add_page(orientation="L")
    pdf.set_font("cjk", size=14)
    pdf.cell(0, 10, f"{agency_name} {year} 年度电子档案移交清单", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("cjk", size=8.5)
    with pdf.table(col_widths=(55, 45, 70, 14, 20, 12, 14, 25), line_height=5,
                   headings_style=FontFace(emphasis="", fill_color=(235, 238, 243))) as table:
        table.row(columns)
        for r in register:
            table.row([str(r[c]) for c in columns])
    pdf.set_font("cjk", size=9)
    pdf.ln(4)
    pdf.cell(0, 8, f"共 {len(register)} 件。移交单位（签章）：　　　　　　接收单位（签章）：　　　　　　日期：",
             new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(data / "移交清单.pdf"))


# -- verification from the package alone ---------------------------------------------------------

@dataclass
class VerifyReport:
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (id, result, reason)

    @property
    def passed(self) -> bool:
        return all(r != "不通过" for _, r, _ in self.items)

    def add(self, item: str, ok: bool, reason: str) -> None:
        self.items.append((item, "通过" if ok else "不通过", reason))


def verify_package(path: Path) -> VerifyReport:
    """The receiving archives' checks, from the package alone (no database, no store)."""
    import bagit

    from archive.audit import entry_hash

    rep = VerifyReport()
    try:
        bag = bagit.Bag(str(path))
        bag.validate(processes=1)
        rep.add("YJ-1-1", True, f"BagIt 校验和一致（{len(bag.payload_entries())} 个文件，SHA-256/SHA-512）")
    except (bagit.BagError, bagit.BagValidationError) as exc:
        rep.add("YJ-1-1", False, f"BagIt 校验失败：{str(exc)[:500]}")
        return rep
    if (path / "timestamp.tsr").is_file():
        from archive.services.timestamps import TimestampFailed, verify_token

        try:
            gen = verify_token(str(path / "timestamp-tsa.pem"), (path / "timestamp.tsr").read_bytes(),
                               (path / "tagmanifest-sha256.txt").read_bytes())
            rep.add("YJ-1-3", True, f"标签清单的可信时间戳有效：{gen.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}（北京时间）")
        except TimestampFailed as exc:
            rep.add("YJ-1-3", False, f"可信时间戳无效：{exc}")
    else:
        rep.items.append(("YJ-1-3", "不适用", "包未加盖可信时间戳（未配置 ARCHIVE_TSA_URL）"))
    data = path / "data"
    body = json.loads((data / "transfer.json").read_text(encoding="utf-8"))
    periods = body["periods"]
    from archive.services.archivalrules import number_regex

    number = number_regex(body["pattern"], None, list(periods))
    problems, seen, meta_missing, register_bad = [], set(), [], []
    for row in body["register"]:
        no = row["档号"]
        if not number.match(no) or no in seen:
            problems.append(f"档号 {no} " + ("重复" if no in seen else "不符合编制规则"))
        seen.add(no)
        folder = data / _safe(no)
        originals = sorted((folder / "原件").iterdir()) if (folder / "原件").is_dir() else []
        if len(originals) != row["文件数"]:
            register_bad.append(f"{no}：清单 {row['文件数']} 份，包内 {len(originals)} 份")
        for original in originals:
            n = original.name.split("-", 1)[0]
            meta_file = folder / "元数据" / f"{n}.xml"
            if not meta_file.is_file():
                meta_missing.append(f"{no}/{original.name}：没有元数据")
                continue
            meta = read_metadata_xml(meta_file.read_bytes())
            digests = Digests()
            with open(original, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digests.update(chunk)
            kept = meta.get("数字摘要", {})
            if kept.get("SHA-256") != digests.sha256 or (kept.get("SM3") and kept["SM3"] != digests.sm3):
                problems.append(f"{no}/{original.name}：数字摘要与元数据不符")
            if str(original.stat().st_size) != meta.get("计算机文件大小"):
                problems.append(f"{no}/{original.name}：文件大小与元数据不符")
            lacking = [k for k in body["required_metadata"] if not meta.get(k) and k != "数字摘要"]
            if lacking:
                meta_missing.append(f"{no}/{original.name}：缺少 {'、'.join(lacking)}")
    rep.add("YJ-1-2", not problems, "；".join(problems[:20]) or f"{len(body['register'])} 件的档号规范唯一，数字摘要、大小与元数据一致")
    rep.add("YJ-2-1", not register_bad, "；".join(register_bad[:20]) or "移交清单与包内文件一致")
    rep.add("YJ-2-3", not meta_missing, "；".join(meta_missing[:20]) or "每份文件的必填元数据齐全")
    # the audit entries: each hash recomputed; the links continuous to the head
    links = [json.loads(line) for line in (data / "audit" / "links.jsonl").read_text(encoding="utf-8").splitlines()]
    by_seq = {seq: (prev, h, alg) for seq, prev, h, alg in links}
    broken = [f"第 {links[i][0]} 条与前一条不衔接" for i in range(1, len(links))
              if links[i][1] != links[i - 1][2] or links[i][0] != links[i - 1][0] + 1]
    for line in (data / "audit" / "entries.jsonl").read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        h = entry_hash(e["prev_hash"], e["seq"], dt.datetime.fromisoformat(e["at"]), e["actor"], e["role"],
                       e["action"], e["target_type"], e["target_id"], e["detail"], e["ip"], e.get("alg") or "sha256")
        if h != e["hash"] or by_seq.get(e["seq"], (None, None, None))[1] != e["hash"]:
            broken.append(f"审计记录 {e['seq']} 的哈希与内容不符")
    rep.add("YJ-2-5", not broken, "；".join(broken[:20]) or f"{len(links)} 条链接连续，本包案件的审计记录哈希一致")
    # the checks at export
    failed = [row["档号"] for row in body["register"]
              if not json.loads((data / _safe(row["档号"]) / "四性检测.json").read_text(encoding="utf-8"))["passed"]]
    rep.add("YJ-4-1", not failed, ("导出时四性检测未通过：" + "、".join(failed)) if failed else "导出时的四性检测均通过")
    rep.items.sort(key=lambda i: tuple(int(x) for x in i[0].split("-")[1:]))
    return rep


def accept(session: Session, path: Path, by: str) -> int:
    """The receiving archives accepted the package: its cases are 已移交 (kept, read-only)."""
    from sqlalchemy import update

    from archive import audit

    body = json.loads((path / "data" / "transfer.json").read_text(encoding="utf-8"))
    ids = [r["case_id"] for r in body["register"]]
    from archive.db import changed_rows

    n = changed_rows(session, update(ArchivalFile).where(ArchivalFile.case_id.in_(ids), ArchivalFile.status == "filed")
                     .values(status="transferred"))
    from archive import jobs

    for case_id in ids:  # the archival record of each says 已移交 (rebuild restores it)
        jobs.enqueue(session, "retain", case_id)
    digest = hashlib.sha256((path / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    audit.append(session, "archive.transfer_accept", actor=by, target_type="agency", target_id=body["agency"],
                 detail={"year": body["year"], "cases": n, "tagmanifest_sha256": digest})
    session.commit()
    return int(n or 0)
