"""The one scope filter of list queries (auth/policy.scoped): city-wide roles unfiltered, a
district or agency to its agencies (and its district's rows where a table records a district),
an empty scope to nothing."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from archive.auth import policy
from archive.auth.principal import Principal
from archive.models import Base, Complaint, WarningRecord


def who(agencies, scope="120114", role="district_office") -> Principal:
    return Principal(user_id=1, username="u", role=role, scope_code=scope,
                     agencies=None if agencies is None else frozenset(agencies), via="token")


def rows(q):
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        now = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
        for i, (agency, district) in enumerate([("A-SJJ", "120114"), ("A-YJJ", "120114"), ("B-SJJ", "120113"),
                                                (None, "120114")]):
            s.add(Complaint(id=i + 1, received_at=now, complainant="某", text="t", agency_code=agency,
                            district_code=district, status="open", created_by="x", created_at=now))
        s.commit()
        return sorted(c.id for c in s.scalars(q))


def test_city_wide_roles_see_everything():
    assert policy.scope_filter(who(None, "120000", "city_office"), WarningRecord.agency_code) is None
    assert rows(policy.scoped(select(Complaint), who(None, "120000", "city_office"), Complaint.agency_code)) == [1, 2, 3, 4]


def test_a_district_sees_its_agencies_and_its_own_rows():
    p = who({"A-SJJ", "A-YJJ"})
    assert rows(policy.scoped(select(Complaint), p, Complaint.agency_code)) == [1, 2]
    assert rows(policy.scoped(select(Complaint), p, Complaint.agency_code, Complaint.district_code)) == [1, 2, 4]


def test_an_empty_scope_sees_nothing():
    assert rows(policy.scoped(select(Complaint), who(set(), None, "reviewer"), Complaint.agency_code)) == []


def test_a_requested_agency_list_is_narrowed_to_the_scope():
    p = who({"A-SJJ", "A-YJJ"})
    assert policy.narrowed_agencies(p, None) == ["A-SJJ", "A-YJJ"]
    assert policy.narrowed_agencies(p, ["A-SJJ", "B-SJJ"]) == ["A-SJJ"]
    assert policy.narrowed_agencies(who(None, "120000", "city_office"), ["B-SJJ"]) == ["B-SJJ"]
