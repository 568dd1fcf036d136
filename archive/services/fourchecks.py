"""四性检测: the four-property check of a case file (DA/T 70-2018 文书类电子档案检测一般要求) —
authenticity, integrity, usability, security (真实性、完整性、可用性、安全性) — at 归档, at 移交
and during long-term keeping.

Items are numbered after DA/T 70's scheme: the phase (GD 归档, YJ 移交与接收, CB 长期保存), the
property (1 真实性, 2 完整性, 3 可用性, 4 安全性) and the item. Each item of each document is
通过, 不通过 or 不适用, with its reason in Chinese. Every stored version is read once: its SHA-256
and SM3 are computed on the way, and it is written to a temporary file for the virus scan
(ClamAV, ``ARCHIVE_CLAMSCAN``; its signature database is the operator's, ``ARCHIVE_CLAMAV_DB``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.clock import SHANGHAI
from archive.digests import Digests
from archive.models import (
    ArchivalFile, AuditEntry, Case, Document, Examination, Organisation, Rendition,
)
from archive.services.archivalrules import (
    CLASSIFICATIONS, ArchivalRules, document_metadata, metadata_problems, retention_for,
)
from archive.storage.base import ObjectNotFound, ObjectStore

PHASES = {"filing": ("GD", "归档"), "transfer": ("YJ", "移交与接收"), "keeping": ("CB", "长期保存")}
PROPERTIES = {1: "真实性", 2: "完整性", 3: "可用性", 4: "安全性"}
PASS, FAIL, NA = "通过", "不通过", "不适用"
# text statuses that mean the file opened (its text read, or found to be a scan for OCR)
READ_STATUSES = {"extracted", "truncated", "ocr", "no_text_layer", "ocr_pending", "refused"}


@dataclass
class Item:
    """One result: the item's identifier and name, the document it is about (None: the case)."""

    id: str
    name: str
    result: str
    reason: str = ""
    document_id: str | None = None
    document: str | None = None

    @property
    def property(self) -> str:
        return PROPERTIES[int(self.id.split("-")[1])]


@dataclass
class Report:
    case_id: str
    case_number: str
    phase: str
    at: str
    items: list[Item] = field(default_factory=list)
    archival_no: str | None = None

    @property
    def passed(self) -> bool:
        return all(i.result != FAIL for i in self.items)

    @property
    def failures(self) -> list[Item]:
        return [i for i in self.items if i.result == FAIL]

    def sort(self) -> None:
        """By property and item number, then document."""
        self.items.sort(key=lambda i: (tuple(int(x) for x in i.id.split("-")[1:]), i.document or ""))

    def as_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "case_number": self.case_number, "phase": self.phase,
                "phase_name": PHASES[self.phase][1], "at": self.at, "passed": self.passed,
                "archival_no": self.archival_no,
                "items": [{**asdict(i), "property": i.property} for i in self.items]}


@dataclass(frozen=True)
class ScanSettings:
    """ClamAV: the ``clamscan`` program ("off": no scan, the item is 不适用) and its database.
    Without any signatures the scan cannot vouch for anything: in production the item fails, in
    development (the offline demo) it is 不适用, with the reason."""

    program: str = "clamscan"
    database: str = ""
    seconds: float = 600.0
    strict: bool = True


def scan_settings(cfg: dict) -> ScanSettings:
    return ScanSettings(str(cfg.get("CLAMSCAN") or "clamscan"), str(cfg.get("CLAMAV_DB") or ""),
                        float(cfg.get("CLAMSCAN_SECONDS") or 600), cfg.get("ENV", "development") == "production")


class Checker:
    """Runs the items for one case in one phase."""

    def __init__(self, session: Session, store: ObjectStore, rules: ArchivalRules, scan: ScanSettings,
                 phase: str, now: dt.datetime, permanent_years: int) -> None:
        self.session, self.store, self.rules, self.scan = session, store, rules, scan
        self.phase, self.now, self.permanent_years = phase, now, permanent_years
        self.prefix = PHASES[phase][0]
        self.metadata: dict[str, dict[str, Any]] = {}  # by document id: the GB/T 18894 metadata checked

    def _id(self, prop: int, n: int) -> str:
        return f"{self.prefix}-{prop}-{n}"

    def run(self, case: Case, archival: ArchivalFile | None) -> Report:
        report = Report(case.id, case.number, self.phase, self.now.isoformat(),
                        archival_no=archival.archival_no if archival else None)
        docs = sorted(case.documents, key=lambda d: (d.uploaded_at, d.id))
        exams = {(e.document_id, e.version_id): e for e in self.session.scalars(
            select(Examination).where(Examination.document_id.in_([d.id for d in docs])))} if docs else {}
        agency = self.session.get(Organisation, case.agency_code)
        retention, _ = retention_for(case, self.rules)
        stored_meta = json.loads(archival.metadata_json) if archival else {}
        from archive.models import ArchivalMetadata

        edited: dict[str, dict[str, str]] = {}
        for m in self.session.scalars(select(ArchivalMetadata).where(
                ArchivalMetadata.document_id.in_([d.id for d in docs]))) if docs else []:
            edited.setdefault(m.document_id, {})[m.name] = m.value
        with tempfile.TemporaryDirectory(prefix="fourchecks-") as tmp:
            files: dict[str, Path] = {}
            for seq, doc in enumerate(docs, 1):
                exam = exams.get((doc.id, doc.version_id))
                path = Path(tmp) / f"{seq:04d}"
                read = self._read(doc, path, report)
                if read:
                    files[doc.id] = path
                meta = stored_meta.get(doc.id) or document_metadata(
                    case, doc, exam, archival.archival_no if archival else "（归档时分配）", seq,
                    self.rules.period_name(retention), agency.name if agency else case.agency_code,
                    creator_of(path, doc) if read else None, edited.get(doc.id))
                self.metadata[doc.id] = meta
                self._authentic(doc, exam, meta, report)
                self._usable(doc, exam, report)
                self._metadata_complete(doc, meta, report)
            self._case_items(case, docs, archival, report)
            self._virus_scan(docs, files, report)
        self._retention(case, docs, archival, report)
        self._audit_chain(case, docs, report)
        report.sort()
        return report

    # -- 真实性 ------------------------------------------------------------------------------------

    def _read(self, doc: Document, path: Path, report: Report) -> bool:
        """1-1 固化信息有效性: every stored version's SHA-256 (and SM3 where recorded) match;
        the current one is kept in ``path`` for the scan."""
        from archive.services.fixity import stored_versions

        versions = stored_versions(self.session, doc)
        problems, ok_current = [], False
        for n, (key, version_id, sha256, sm3) in enumerate(versions):
            current = n == 0
            digests = Digests()
            try:
                with open(path, "wb") if current else open(os.devnull, "wb") as out:
                    for chunk in self.store.open(key, version_id):
                        digests.update(chunk)
                        out.write(chunk)
            except ObjectNotFound:
                problems.append(f"版本 {version_id[:12]} 在存储中不存在")
                continue
            if digests.sha256 != sha256:
                problems.append(f"版本 {version_id[:12]} 的 SHA-256 与登记值不符（存储内容被改动或损坏）")
            elif sm3 and digests.sm3 != sm3:
                problems.append(f"版本 {version_id[:12]} 的 SM3 与登记值不符")
            elif current:
                ok_current = True
        report.items.append(Item(self._id(1, 1), "固化信息有效性检测（数字摘要）", FAIL if problems else PASS,
                                 "；".join(problems) or f"{len(versions)} 个版本的 SHA-256"
                                 + ("、SM3" if doc.sm3 else "") + " 与存储内容一致", doc.id, doc.filename))
        return ok_current

    def _authentic(self, doc: Document, exam: Examination | None, meta: dict, report: Report) -> None:
        if exam is None:
            report.items.append(Item(self._id(1, 2), "电子签名、电子印章有效性检测", FAIL,
                                     "尚未完成格式与签章检查（后台任务），请稍后再检测", doc.id, doc.filename))
        else:
            sigs = json.loads(exam.signatures or "[]")
            result = NA if not sigs else FAIL if exam.signatures_failed else PASS
            reason = ("文件中没有电子签名或电子印章" if not sigs else
                      f"{exam.signatures_failed} 个签名或签章未通过验证" if exam.signatures_failed else
                      f"{len(sigs)} 个签名或签章验证通过")
            report.items.append(Item(self._id(1, 2), "电子签名、电子印章有效性检测", result, reason, doc.id, doc.filename))
        problems = []
        if meta.get("计算机文件大小") != doc.size:
            problems.append(f"元数据中的文件大小 {meta.get('计算机文件大小')} 与文件 {doc.size} 字节不符")
        if meta.get("计算机文件名") != doc.filename:
            problems.append("元数据中的计算机文件名与文件不符")
        ext = Path(doc.filename).suffix.lower().lstrip(".")
        if exam is not None and exam.puid != "UNKNOWN" and ext and not _extension_fits(ext, exam):
            problems.append(f"文件扩展名 .{ext} 与识别出的格式 {exam.format_name} 不符")
        report.items.append(Item(self._id(1, 3), "元数据与内容数据的电子属性一致性检测", FAIL if problems else PASS,
                                 "；".join(problems) or "文件名、大小、格式与元数据一致", doc.id, doc.filename))

    # -- 可用性 ------------------------------------------------------------------------------------

    def _usable(self, doc: Document, exam: Examination | None, report: Report) -> None:
        if exam is None:
            report.items.append(Item(self._id(3, 1), "内容数据格式检测", FAIL, "尚未完成格式识别", doc.id, doc.filename))
        else:
            report.items.append(Item(
                self._id(3, 1), "内容数据格式检测", FAIL if exam.policy == "outside" else PASS,
                (f"{exam.format_name} 不在格式策略之内：{exam.policy_reason}" if exam.policy == "outside"
                 else f"{exam.format_name}（{exam.puid}）符合格式策略"), doc.id, doc.filename))
            report.items.append(Item(
                self._id(3, 3), "加密与口令保护检测", FAIL if exam.protection else PASS,
                {"encrypted": "文件已加密，长期保存中无法保证可读", "password": "文件设有打开口令"}.get(
                    exam.protection, "文件未加密、未设口令") if exam.protection else "文件未加密、未设口令",
                doc.id, doc.filename))
        rendition = self.session.scalar(select(Rendition).where(Rendition.document_id == doc.id,
                                                                Rendition.source_version_id == doc.version_id))
        readable = doc.text_status in READ_STATUSES or (rendition is not None and rendition.status == "done")
        if doc.text_status == "not_extracted" and not readable:
            report.items.append(Item(self._id(3, 2), "内容数据可读性检测", NA, "此类文件（音视频等）不读取文字",
                                     doc.id, doc.filename))
        else:
            from archive.labels import TEXT_STATUS_NAMES

            report.items.append(Item(self._id(3, 2), "内容数据可读性检测", PASS if readable else FAIL,
                                     f"文件可打开：{TEXT_STATUS_NAMES.get(doc.text_status, doc.text_status)}"
                                     if doc.text_status in READ_STATUSES else
                                     "已转换为 PDF/A 版式副本" if readable else
                                     f"文件未能打开读取（{doc.text_reason or TEXT_STATUS_NAMES.get(doc.text_status, doc.text_status)}）",
                                     doc.id, doc.filename))
        needs = exam is not None and exam.format_class == "editable" or (exam is not None and exam.puid == "local/ofd")
        if not needs:
            report.items.append(Item(self._id(3, 4), "长期保存格式（PDF/A 副本）检测", NA,
                                     "原件即为版式或图像文件，无需 PDF/A 副本", doc.id, doc.filename))
        else:
            ok = rendition is not None and rendition.status == "done" and rendition.pdfa_valid is not False
            report.items.append(Item(self._id(3, 4), "长期保存格式（PDF/A 副本）检测", PASS if ok else FAIL,
                                     "PDF/A 副本已生成并通过校验" if ok else
                                     "PDF/A 副本尚未生成" if rendition is None else
                                     f"PDF/A 副本不可用：{rendition.reason or rendition.pdfa_problems}",
                                     doc.id, doc.filename))

    # -- 完整性 ------------------------------------------------------------------------------------

    def _metadata_complete(self, doc: Document, meta: dict, report: Report) -> None:
        missing = metadata_problems(meta, self.rules)
        report.items.append(Item(self._id(2, 3), "元数据必填著录项目检测", FAIL if missing else PASS,
                                 ("缺少：" + "、".join(missing)) if missing else
                                 f"{len(self.rules.required_metadata)} 项必填元数据齐全", doc.id, doc.filename))
        values = []
        if meta.get("密级") not in CLASSIFICATIONS:
            values.append(f"密级“{meta.get('密级')}”不在值域内")
        try:
            day = dt.date.fromisoformat(str(meta.get("日期")))
            if day > self.now.astimezone(SHANGHAI).date() or day.year < 1949:
                values.append(f"日期 {day} 不在合理范围内")
        except ValueError:
            values.append(f"日期“{meta.get('日期')}”格式不正确")
        if not isinstance(meta.get("计算机文件大小"), int) or meta["计算机文件大小"] < 0:
            values.append("文件大小不是非负整数")
        report.items.append(Item(self._id(1, 5), "元数据项值域与合理性检测", FAIL if values else PASS,
                                 "；".join(values) or "各项取值在值域内", doc.id, doc.filename))

    def _case_items(self, case: Case, docs: list[Document], archival: ArchivalFile | None, report: Report) -> None:
        from archive.deadlines.rules import load_rules as deadline_rules
        from archive.labels import form_name, stage_name
        from archive.models import STAGES_BY_KIND

        recorded = {s.stage: s for s in case.stages}
        missing_stages = [stage_name(s) for s in STAGES_BY_KIND[case.kind] if s == "closing" and s not in recorded]
        lacking = []
        for code, st in recorded.items():
            present = {d.form_code for d in docs if d.stage == code}
            ruleset = deadline_rules().at(st.completed_at.astimezone(SHANGHAI).date())
            for alts in ruleset.required_forms(code):
                if not alts & present:
                    lacking.append(f"“{stage_name(code)}”缺少《{'》或《'.join(form_name(a) for a in sorted(alts))}》")
        problems = [f"未登记{s}环节" for s in missing_stages] + lacking
        report.items.append(Item(self._id(2, 1), "各环节必需文书齐全性检测", FAIL if problems else PASS,
                                 "；".join(problems) or f"{len(recorded)} 个环节的必需文书齐全"))
        if archival is None:
            report.items.append(Item(self._id(2, 2), "件号连续性检测", NA, "件号在检测通过后归档时分配"))
            report.items.append(Item(self._id(1, 4), "档号规范性与唯一性检测", NA, "档号在检测通过后归档时分配"))
        else:
            report.items += self.numbered_items(archival)
        # 2-4: the catalog's documents are exactly the document objects stored for the case
        stored = {key for key, _ in self.store.keys(f"cases/{case.id}/documents/")}
        listed = {d.object_key for d in docs}
        extra, gone = stored - listed, listed - stored
        report.items.append(Item(self._id(2, 4), "电子文件数量与清单一致性检测", FAIL if extra or gone else PASS,
                                 (f"存储中有 {len(extra)} 个文件不在清单中" if extra else "")
                                 + (f"清单中 {len(gone)} 个文件不在存储中" if gone else "")
                                 or f"清单 {len(listed)} 份文件与存储一致"))
        # 2-5: every document has the audit entry of its upload (过程信息)
        audited = set(self.session.scalars(select(AuditEntry.target_id).where(
            AuditEntry.action == "document.upload", AuditEntry.target_id.in_([d.id for d in docs])))) if docs else set()
        unaudited = [d.filename for d in docs if d.id not in audited]
        report.items.append(Item(self._id(2, 5), "过程信息（审计记录）完整性检测", FAIL if unaudited else PASS,
                                 ("无上传审计记录：" + "、".join(unaudited[:10])) if unaudited
                                 else "每份文件都有上传审计记录"))

    def numbered_items(self, archival: ArchivalFile) -> list[Item]:
        """1-4 档号规范性与唯一性, 2-2 件号连续性: the items about the number (at 归档, run in
        the filing's transaction once the number is taken)."""
        pieces = list(self.session.scalars(select(ArchivalFile.piece).where(
            ArchivalFile.agency_code == archival.agency_code, ArchivalFile.year == archival.year,
            ArchivalFile.retention == archival.retention).order_by(ArchivalFile.piece)))
        gaps = sorted(set(range(1, max(pieces) + 1)) - set(pieces)) if pieces else []
        dupes = len(pieces) != len(set(pieces))
        out = [Item(self._id(2, 2), "件号连续性检测", FAIL if gaps or dupes else PASS,
                    (f"件号缺 {', '.join(map(str, gaps[:20]))}" if gaps else "件号重复") if gaps or dupes
                    else f"{archival.year} 年度{self.rules.period_name(archival.retention)}的件号 1–{len(pieces)} 连续")]
        well = self.rules.number_regex().match(archival.archival_no) is not None
        taken = self.session.scalar(select(func.count()).select_from(ArchivalFile).where(
            ArchivalFile.archival_no == archival.archival_no)) or 0
        out.append(Item(self._id(1, 4), "档号规范性与唯一性检测", PASS if well and taken == 1 else FAIL,
                        f"档号 {archival.archival_no} 符合编制规则且唯一" if well and taken == 1 else
                        f"档号 {archival.archival_no} " + ("不符合编制规则" if not well else "重复")))
        return out

    # -- 安全性 ------------------------------------------------------------------------------------

    def _virus_scan(self, docs: list[Document], files: dict[str, Path], report: Report) -> None:
        name = "病毒感染检测"
        if self.scan.program == "off":
            report.items.append(Item(self._id(4, 1), name, NA, "未配置病毒扫描（ARCHIVE_CLAMSCAN=off）"))
            return
        program = shutil.which(self.scan.program)
        if program is None:
            report.items.append(Item(self._id(4, 1), name, FAIL, f"未找到病毒扫描程序 {self.scan.program}"))
            return
        if not files:
            report.items.append(Item(self._id(4, 1), name, NA, "没有可扫描的文件"))
            return
        args = [program, "--no-summary", "--stdout", "--infected"]
        if self.scan.database:
            args += ["--database", self.scan.database]
        try:
            done = subprocess.run(args + [str(p) for p in files.values()], capture_output=True, text=True,
                                  timeout=self.scan.seconds)
        except subprocess.TimeoutExpired:
            report.items.append(Item(self._id(4, 1), name, FAIL, "病毒扫描超时"))
            return
        by_path = {str(files[d.id]): d for d in docs if d.id in files}
        found = {}
        for line in done.stdout.splitlines():
            if line.endswith(" FOUND") and ": " in line:
                path, sig = line[:-len(" FOUND")].rsplit(": ", 1)
                if path in by_path:
                    found[by_path[path].id] = (by_path[path].filename, sig)
        if done.returncode not in (0, 1):
            why = (done.stderr.strip().splitlines() or ["未知错误"])[-1][:300]
            if "No supported database files found" in done.stderr and not self.scan.strict:
                report.items.append(Item(self._id(4, 1), name, NA, "没有病毒特征库（开发环境；生产环境中此项不通过），"
                                                                    "请用 freshclam 或内网镜像更新：" + why))
            else:
                report.items.append(Item(self._id(4, 1), name, FAIL, "病毒扫描未能完成：" + why))
            return
        for doc in docs:
            if doc.id in found:
                report.items.append(Item(self._id(4, 1), name, FAIL, f"发现病毒特征 {found[doc.id][1]}",
                                         doc.id, doc.filename))
        if not found:
            report.items.append(Item(self._id(4, 1), name, PASS, f"{len(files)} 份文件未发现病毒（ClamAV）"))

    def _retention(self, case: Case, docs: list[Document], archival: ArchivalFile | None, report: Report) -> None:
        name = "保管期限与存储保留期一致性检测"
        if archival is None:
            report.items.append(Item(self._id(4, 2), name, NA, "归档时按保管期限延长存储保留期"))
            return
        from archive.services.fixity import stored_versions

        until = dt.datetime.combine(archival.retain_until, dt.time(), SHANGHAI) if archival.retain_until else None
        short = []
        for doc in docs:
            for key, version_id, _, _ in stored_versions(self.session, doc):
                try:
                    kept = self.store.stat(key, version_id).retain_until
                except ObjectNotFound:
                    continue  # reported by 1-1
                if until is not None and (kept is None or kept < until):
                    short.append(f"{doc.filename}（保留至 {kept.astimezone(SHANGHAI).date() if kept else '未设置'}）")
        report.items.append(Item(self._id(4, 2), name, FAIL if short else PASS,
                                 ("存储保留期短于保管期限：" + "、".join(short[:10])) if short else
                                 f"全部版本的对象锁定保留期覆盖保管期限（至 {archival.retain_until}）"))

    def _audit_chain(self, case: Case, docs: list[Document], report: Report) -> None:
        """4-3: the case's audit entries intact and linked to their neighbours (each hash
        recomputed); no open alert of a broken chain (the daily watch verifies all of it)."""
        from archive import audit
        from archive.models import SecurityAlert

        ids = [case.id] + [d.id for d in docs]
        seqs = list(self.session.scalars(select(AuditEntry.seq).where(AuditEntry.target_id.in_(ids))))
        problems = audit.verify_entries(self.session, seqs)
        alert = self.session.scalar(select(SecurityAlert.message).where(SecurityAlert.kind == "audit_chain",
                                                                        SecurityAlert.acknowledged_at.is_(None)))
        if alert:
            problems.append(f"审计日志链有未核查的断开告警：{alert}")
        report.items.append(Item(self._id(4, 3), "审计日志链完整性检测", FAIL if problems else PASS,
                                 "；".join(problems[:5]) or f"本案 {len(seqs)} 条审计记录的哈希及其前后链接完整"))


def _extension_fits(ext: str, exam: Examination) -> bool:
    """A file's extension agrees with the format identified (loosely: the family of the format)."""
    mime = (exam.format_mime or "").lower()
    name = (exam.format_name or "").lower()
    families = {"pdf": ("pdf",), "ofd": ("ofd",), "docx": ("word", "officedocument", "ooxml", "zip"),
                "doc": ("word", "msword"), "jpg": ("jpeg", "jfif", "exif"), "jpeg": ("jpeg", "jfif", "exif"),
                "png": ("png",), "tif": ("tiff",), "tiff": ("tiff",), "wps": ("wps", "word"),
                "txt": ("text", "plain"), "xml": ("xml",), "mp4": ("mp4", "mpeg-4"), "mp3": ("mpeg", "mp3")}
    keys = families.get(ext)
    return keys is None or any(k in mime or k in name for k in keys)


def creator_of(path: Path, doc: Document) -> str | None:
    """文档创建程序: what made the file, as the file says (a PDF's Producer or Creator, a DOCX's
    Application); None when it does not say."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head.startswith(b"%PDF"):
            from pypdf import PdfReader

            info: Any = PdfReader(str(path)).metadata or {}
            value = info.get("/Producer") or info.get("/Creator")
            return str(value)[:200] if value else None
        if head.startswith(b"PK"):
            import re
            import zipfile

            with zipfile.ZipFile(path) as z:
                if "docProps/app.xml" in z.namelist():
                    xml = z.read("docProps/app.xml")[:100_000].decode("utf-8", "replace")
                    m = re.search(r"<Application>([^<]{1,200})</Application>", xml)
                    return m.group(1) if m else None
    except Exception:  # noqa: BLE001 - a file that does not say is not an error of the check
        return None
    return None


def report_sha256(report: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(report, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
