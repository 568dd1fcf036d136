"""How long the pages take to render on the demo data: median milliseconds per page and role.

    python -m bench.pages [--cases 36] [--repeat 15]

Starts SeaweedFS on a free port in a temporary directory, loads the demo (``--cases`` cases with
their DOCX and PDF documents) into SQLite, drains the index queue, then renders each page
through the WSGI app (no network) as the demo's clerk, district office and city office, and
prints the median and the slowest of ``--repeat`` renderings. Rendering only: the PDF preview's
download and drawing happen in the browser afterwards.
"""
from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=36)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()

    from sqlalchemy import select

    from archive.auth.accounts import create_user, issue_token
    from archive.demo import load_demo
    from archive.factory import create_app
    from archive.worker import drain
    from archive.models import Case, Document
    from bench.instance import embedded_archive

    with embedded_archive("bench-pages-") as (archive, cfg):
        t = time.perf_counter()
        docs = load_demo(archive, cases=args.cases, echo=lambda _m: None)
        drain(archive.sessions, archive.store, archive.index, archive.extract_limits, archive.ingest_settings)
        print(f"demo: {args.cases} cases, {docs} documents loaded and indexed in {time.perf_counter() - t:.1f} s")
        tokens = {}
        with archive.sessions() as s:
            for name, role, scope in (("b_clerk", "agency_clerk", "120114-SJJ"), ("b_district", "district_office", "120114"),
                                      ("b_city", "city_office", "120000")):
                tokens[name] = issue_token(s, create_user(s, name, role, scope)).token
            s.commit()
            case_id = s.scalar(select(Case.id).where(Case.agency_code == "120114-SJJ").order_by(Case.number))
            doc_id = s.scalar(select(Document.id).where(Document.case_id == case_id))
        app = create_app(cfg, archive=archive)
        pages = [("工作台", "/"), ("案件", "/cases"), ("案件页", f"/cases/{case_id}"), ("文书页", f"/documents/{doc_id}"),
                 ("检索 停产停业", "/search?q=停产停业"), ("预警", "/warnings"), ("更正", "/amendments")]
        print(f"{'page':14} {'role':12} {'median ms':>10} {'max ms':>8}  status")
        for who in tokens:
            client = app.test_client()
            client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + tokens[who]
            for label, path in pages:
                times, status = [], 0
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    r = client.get(path)
                    r.get_data()
                    times.append((time.perf_counter() - t) * 1000)
                    status = r.status_code
                print(f"{label:14} {who:12} {statistics.median(times):10.1f} {max(times):8.1f}  {status}")


if __name__ == "__main__":
    main()
