"""Who asks, and with what: the one argument every use case of the application layer takes
besides its plain arguments. The HTTP edge (``archive.edge.auth.caller``) makes one per request,
for the API and the pages alike; the CLI and tests can make their own. No Flask here."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, NoReturn

from sqlalchemy.orm import Session, sessionmaker

from archive import audit
from archive.auth import policy
from archive.auth.principal import Principal
from archive.errors import Conflict, Forbidden, NotFound
from archive.models import Case
from archive.sampling.service import active_assignment
from archive.services.objects import IngestSettings
from archive.storage.base import ObjectStore


@dataclass
class Caller:
    """The principal of a request with its database session, the object store, the ingest
    settings and the configuration; where the audit trail is written and what each entry of
    the request carries (``ip``; ``via`` = "web" for the pages, recorded with the page's
    actions as before; None for the API)."""

    principal: Principal
    session: Session
    sessions: sessionmaker[Session]
    store: ObjectStore
    settings: IngestSettings
    config: dict[str, Any] = field(default_factory=dict)
    ip: str | None = None
    via: str | None = None
    method: str | None = None
    path: str | None = None

    @property
    def username(self) -> str:
        return self.principal.username

    def _detail(self, detail: dict[str, Any]) -> dict[str, Any]:
        if self.via and "via" not in detail:
            detail = {**detail, "via": self.via}
        return detail

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """The use case's change: committed when the block ends, rolled back if it raises."""
        try:
            yield self.session
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

    def audit(self, action: str, target_type: str | None = None, target_id: str | None = None,
              **detail: Any) -> None:
        """Record an event of this caller in the audit trail (its own transaction)."""
        p = self.principal
        audit.record(self.sessions, action, actor=p.username, role=p.role, target_type=target_type,
                     target_id=target_id, detail=self._detail(detail), ip=self.ip)

    def audit_in(self, session: Session, action: str, target_type: str | None = None,
                 target_id: str | None = None, **detail: Any) -> None:
        """Add an event to the audit trail in ``session``'s transaction: committed with the
        change it records, or not at all."""
        p = self.principal
        audit.append(session, action, actor=p.username, role=p.role, target_type=target_type,
                     target_id=target_id, detail=self._detail(detail), ip=self.ip)

    def refuse(self, target_type: str, target_id: str, *, visible: bool, why: str) -> NoReturn:
        """Refuse the action: 403 (audited) when the caller may know the record exists, else
        the very 404 a missing id raises (the edge audits every 404 alike)."""
        if visible:
            self.audit("access.refused", target_type, target_id, method=self.method, path=self.path, reason=why)
            raise Forbidden("无此操作权限 / not permitted for your role", {"role": [why]})
        exc = NotFound("no such " + target_type)
        exc.audit = (target_type, target_id, why)
        raise exc

    def may_read(self, agency_code: str, case_id: str) -> bool:
        """The caller's scope covers the case, or the caller is a reviewer the case is assigned
        to and the review deadline has not passed (each such access is audited)."""
        p = self.principal
        if policy.reads_agency(p, agency_code):
            return True
        if policy.works_from_assignments(p):
            review = active_assignment(self.session, p.username, case_id)
            if review is not None:
                self.audit("review.access", "case", case_id, review=review.id, method=self.method, path=self.path)
                return True
        return False

    def case_for(self, case: Case | None, case_id: str, *, write: bool = False) -> Case:
        """``case`` if the caller may see it (and write to it when ``write``); refusals are audited."""
        if case is None:
            raise NotFound("no such case")
        if not self.may_read(case.agency_code, case_id):
            self.refuse("case", case_id, visible=False, why="outside your scope")
        if write and not policy.writes_agency(self.principal, case.agency_code):
            self.refuse("case", case_id, visible=True, why=f"a {self.principal.role} does not change case files")
        if write:
            from archive.models import ArchivalFile

            filed = self.session.get(ArchivalFile, case_id)
            if filed is not None:  # 归档 (and 已移交): the file is closed; it is kept as filed
                raise Conflict("案卷已归档（档号 %s），不能再登记环节、上传或更正 / the case is filed" % filed.archival_no,
                               {"case": ["案卷已归档，不能再修改"]})
        return case
