"""The application layer is usable without Flask: a use case takes a Caller (principal, session,
store, audit sink) and plain arguments, does what the API and the pages do (scope, role, commit,
audit), and refuses the same way."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from archive.auth.principal import principal_for
from archive.errors import Forbidden, NotFound
from archive.models import AuditEntry, User
from archive.services import cases
from archive.services.caller import Caller
from archive.services.schemas import CaseCreateSchema, StageCreateSchema


def caller_of(archive, session, username: str, via: str | None = None) -> Caller:
    user = session.scalar(select(User).where(User.username == username))
    return Caller(principal=principal_for(session, user, "token"), session=session, sessions=archive.sessions,
                  store=archive.store, settings=archive.ingest_settings, config=archive.config, ip="127.0.0.1",
                  via=via)


def test_a_case_is_opened_and_its_stage_recorded_through_the_services_alone(archive, tokens):
    with archive.sessions() as s:
        c = caller_of(archive, s, "clerk_a", via="cli")
        data = CaseCreateSchema().load({"number": "津武市监罚〔2026〕77号", "agency": "A-SJJ", "kind": "penalty",
                                        "procedure": "general", "power": "SJ-FOOD-124", "opened_on": "2026-03-02",
                                        "party_name": "某公司", "party_type": "organisation"})
        case = cases.open_case(c, data)
        stage = StageCreateSchema().load({"stage": "filing", "completed_at": "2026-03-02T10:00:00+08:00"})
        done = cases.complete_stage(c, case.id, stage)
        assert [x.stage for x in done.stages] == ["filing"]
        entries = s.scalars(select(AuditEntry).where(AuditEntry.target_id == case.id).order_by(AuditEntry.seq)).all()
        assert [(e.action, e.actor, e.ip) for e in entries] == [("case.create", "clerk_a", "127.0.0.1"),
                                                                ("stage.record", "clerk_a", "127.0.0.1")]
        assert all('"via": "cli"' in e.detail for e in entries)

        # another agency's clerk: the same 404 a missing case gets; a district office: 403 on a write
        with pytest.raises(NotFound):
            cases.view_case(caller_of(archive, s, "clerk_b"), case.id)
        with pytest.raises(Forbidden):
            cases.complete_stage(caller_of(archive, s, "district_a"), case.id, {
                "stage": "investigation", "completed_at": dt.datetime(2026, 3, 9, 10, tzinfo=dt.timezone.utc)})
        refused = s.scalars(select(AuditEntry).where(AuditEntry.action == "access.refused",
                                                     AuditEntry.actor == "district_a")).all()
        assert len(refused) == 1 and refused[0].target_id == case.id
