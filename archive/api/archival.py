"""归档 and 四性检测 of a case: file it (the agency), read its checks (whoever reads the case)."""
from __future__ import annotations

import json

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from archive.edge.auth import caller
from archive.services import archival
from archive.services.schemas import LocalDateTime

blp = Blueprint("archival", __name__, url_prefix="/api/cases", description="归档 Archival filing")
documents_blp = Blueprint("archival_metadata", __name__, url_prefix="/api/documents",
                          description="归档元数据 Archival metadata")


class CheckItemSchema(Schema):
    id = fields.String(metadata={"description": "DA/T 70 style: phase (GD 归档, YJ 移交, CB 长期保存)-property-item"})
    property = fields.String(metadata={"description": "真实性 / 完整性 / 可用性 / 安全性"})
    name = fields.String()
    result = fields.String(metadata={"description": "通过 / 不通过 / 不适用"})
    reason = fields.String()
    document_id = fields.String(allow_none=True)
    document = fields.String(allow_none=True)


class CheckSchema(Schema):
    id = fields.Integer()
    phase = fields.String()
    phase_name = fields.String()
    at = LocalDateTime()
    by = fields.String()
    passed = fields.Boolean()
    archival_no = fields.String(allow_none=True)
    report_sha256 = fields.String()
    items = fields.List(fields.Nested(CheckItemSchema))


class CheckListSchema(Schema):
    checks = fields.List(fields.Nested(CheckSchema))


class ArchivalFileSchema(Schema):
    case_id = fields.String()
    archival_no = fields.String()
    year = fields.Integer()
    retention = fields.String(metadata={"description": "保管期限代码: Y 永久, D30 定期30年, D10 定期10年"})
    retention_name = fields.String()
    retain_until = fields.Date(allow_none=True)
    piece = fields.Integer(metadata={"description": "件号, continuous within agency, year and retention"})
    status = fields.String()
    filed_at = LocalDateTime()
    filed_by = fields.String()
    check = fields.Nested(CheckSchema)


def check_view(row) -> dict:
    body = json.loads(row.report)
    return {"id": row.id, "phase": row.phase, "phase_name": body.get("phase_name"), "at": row.at, "by": row.by,
            "passed": row.passed, "archival_no": body.get("archival_no"), "report_sha256": row.report_sha256,
            "items": body.get("items", [])}


@blp.route("/<case_id>/archive")
class Archive(MethodView):
    @blp.response(201, ArchivalFileSchema)
    def post(self, case_id):
        """归档: run the four-property check and, when every item passes, file the closed case with
        its 档号 and 保管期限 (422 with the failed items otherwise; 409 when already filed)."""
        c = caller()
        row, check = archival.archive_case(c, case_id)
        rules = archival.load_rules(c.config.get("ARCHIVAL_RULES") or None)
        return {"case_id": row.case_id, "archival_no": row.archival_no, "year": row.year, "retention": row.retention,
                "retention_name": rules.period_name(row.retention), "retain_until": row.retain_until,
                "piece": row.piece, "status": row.status, "filed_at": row.filed_at, "filed_by": row.filed_by,
                "check": check_view(check)}


@blp.route("/<case_id>/checks")
class Checks(MethodView):
    @blp.response(200, CheckListSchema)
    def get(self, case_id):
        """The case's four-property checks, newest first, each with every item and its reason."""
        return {"checks": [check_view(r) for r in archival.checks_of(caller(), case_id)]}


class MetadataSchema(Schema):
    filed = fields.Boolean(metadata={"description": "as filed (no longer editable)"})
    editable = fields.List(fields.String())
    metadata = fields.Dict(keys=fields.String(), values=fields.Raw(),
                           metadata={"description": "GB/T 18894 elements by their Chinese names"})


class MetadataEditSchema(Schema):
    class Meta:
        unknown = "include"


@documents_blp.route("/<doc_id>/metadata")
class DocumentMetadata(MethodView):
    @documents_blp.response(200, MetadataSchema)
    def get(self, doc_id):
        """A document's GB/T 18894 metadata: as filed, or as it would be filed now."""
        return archival.metadata_of(caller(), doc_id)

    @documents_blp.arguments(MetadataEditSchema)
    @documents_blp.response(200, MetadataSchema)
    def put(self, args, doc_id):
        """Set 题名, 文件编号, 责任者 or 密级 before filing (the agency; an empty value restores the
        archive's own); 409 once the case is filed."""
        return archival.set_metadata(caller(), doc_id, {str(k): str(v) if v is not None else "" for k, v in args.items()})
