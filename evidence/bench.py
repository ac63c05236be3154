"""Benchmark rows for evidence (run by `make bench`, see config/bench.py).

The large organisation holds 10,000 evidence items, far more than a small business keeps: files, links
and notes in every status and type, owned by its members or by nobody, collected over two years, most
mapped to a few controls across the library. The second organisation holds a few hundred of its own, so
every query must filter by organisation to stay fast; the small organisation holds three, and the
register's first page must cost it as many queries as the 10,000. The scenarios ask for the register's
first page, a filtered page, the register sorted by expiry, a search and page 40 (issue 6: p95 within
50 ms).

Two measurements are not page requests, so the seeder records them as MEASURES: a 25 MB upload through
`services.items.evidence_upload` with the peak Python memory it allocates (it must stream, not read the
file into memory; the budget is 50 MB), and a Google Workspace collection run over a 5,000-user tenant
served by the tests' local fake Admin SDK (no budget: how long it takes, and its memory).
"""

from __future__ import annotations

import gc
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from config.bench import SMALL_ROWS, BenchData, Budget, Measure, Result, Scenario, Small

ITEMS = 10_000
OTHER_ITEMS = 300
MAX_CONTROLS_PER_ITEM = 5
PAGE_BUDGET_MS = 50
UPLOAD_BYTES = 25 * 1024 * 1024
UPLOAD_MEMORY_BUDGET_MB = 50
TITLES = (
    "Firewall configuration export",
    "Multi-factor authentication enrolment report",
    "Security awareness training record",
    "Cyber Essentials certificate",
    "Information security policy, signed",
    "Supplier data processing agreement",
    "Asset register",
    "Backup restore test log",
    "Board sign-off of the risk assessment",
    "Laptop encryption status",
    "Access review minutes",
    "Penetration test report",
)
# Text like a real file's: kept in the database for duplicate detection, never shown by the register.
EXTRACTED_TEXT = " ".join(f"Line {n}: the setting was checked and found as expected." for n in range(40))


ISSUE = 6
UPLOAD = Measure("upload of a 25 MB file (memory growth)", ISSUE, Budget(memory_mb=UPLOAD_MEMORY_BUDGET_MB))
COLLECTION = Measure("Google Workspace collection, 5,000 users", ISSUE)
MEASURES = [UPLOAD, COLLECTION]


def seed(data: BenchData) -> None:
    started = time.perf_counter()
    mappings = _seed_register(data.organisation, start=0, count=ITEMS)
    seeded_in = time.perf_counter() - started
    mappings += _seed_register(data.other_organisation, start=0, count=OTHER_ITEMS)
    # Rows, not an empty register: an empty one skips the page's controls prefetch.
    if data.small_organisation is not None:
        mappings += _seed_register(data.small_organisation, start=0, count=SMALL_ROWS)
    data.counts["evidence items"] = ITEMS + OTHER_ITEMS + SMALL_ROWS
    data.counts["evidence mappings"] = mappings
    data.notes.append(f"Evidence: the {ITEMS:,} items of the large organisation were seeded in {seeded_in:.1f} s.")
    if data.wants(UPLOAD):
        _time_upload(data)
    if data.wants(COLLECTION):
        _time_collection(data)


COLLECTION_USERS = 5_000


def _time_collection(data: BenchData) -> None:
    """A Google Workspace collection run over a 5,000-user tenant, served by the local fake Admin SDK the
    tests use, through the same service and storage a worker uses."""
    import dataclasses

    from django.conf import settings
    from django.test import override_settings

    from evidence.models import CollectionRun, Connection, Evidence
    from evidence.services.collection import collection_execute
    from evidence.tests.fake_google import FakeGoogle
    from evidence.tokens import encrypt_tokens

    fake = FakeGoogle(users=COLLECTION_USERS).start()
    try:
        connectors = {**settings.EVIDENCE_CONNECTORS, "google_workspace": dataclasses.asdict(fake.settings())}
        with tempfile.TemporaryDirectory(prefix="greenlight-bench-collect-") as folder:
            storages = {
                **settings.STORAGES,
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder}},
            }
            with override_settings(EVIDENCE_CONNECTORS=connectors, STORAGES=storages):
                connection = Connection.objects.create(
                    organisation=data.organisation,
                    provider="google_workspace",
                    encrypted_tokens=encrypt_tokens(fake.issue_tokens()),
                    connected_by=data.users["owner"],
                )
                run = CollectionRun.objects.create(organisation=data.organisation, connection=connection)
                started = time.perf_counter()
                finished = collection_execute(run_id=run.pk)
                seconds = time.perf_counter() - started
                # Memory on a second run the same day (it updates the same items): traced separately,
                # because tracing slows Python several times over. The fake serves from this process, so
                # its pages of JSON are counted too: an upper bound for a worker.
                CollectionRun.objects.filter(pk=run.pk).update(status="queued")
                gc.collect()
                tracemalloc.start()
                try:
                    collection_execute(run_id=run.pk)
                    _current, peak = tracemalloc.get_traced_memory()
                finally:
                    tracemalloc.stop()
                requests = len(fake.requests)
                # The register scenarios count exactly 10,000 items: the collected ones go again.
                Evidence.objects.filter(organisation=data.organisation, source="google_workspace").delete()
                connection.delete()
    finally:
        fake.stop()
    if finished is None:
        data.record(COLLECTION, Result(problem="the run could not be claimed"))
        return
    data.record(
        COLLECTION,
        Result(
            median_ms=seconds * 1000,
            peak_kib=peak / 1024,
            problem=f"the run failed: {finished.error}" if finished.status == "failed" else "",
            detail=f"{finished.status}; local fake Admin SDK, {requests // 2} API requests, {finished.findings} "
            f"findings, {finished.checks_passed} checks passed and {finished.checks_failed} failed; timed once, "
            "memory from a second run (fake server included)",
        ),
    )


def _seed_register(organisation: Any, *, start: int, count: int) -> int:
    """Items numbered from `start`, their files' rows and their mappings; returns the mappings made."""
    from accounts.models import Membership
    from compliance.models import Control
    from evidence.models import Evidence

    owners: list[int | None] = list(
        Membership.objects.filter(organisation=organisation).order_by("pk").values_list("user_id", flat=True)[:12]
    )
    owners.append(None)
    controls = list(Control.objects.live().order_by("framework__position", "position").values_list("pk", flat=True))
    items = Evidence.objects.bulk_create(_items(organisation, owners, start, count), batch_size=1000)
    _add_revisions(items)
    return _map_controls(items, controls, start)


def _items(organisation: Any, owners: list[int | None], start: int, count: int) -> Iterator[Any]:
    from django.utils import timezone

    from evidence.kinds import FRESHNESS_DAYS, EvidenceType
    from evidence.models import Evidence, EvidenceForm, EvidenceSource, EvidenceStatus

    today = date.today()
    now = timezone.now()
    types = list(EvidenceType)
    statuses = list(EvidenceStatus)
    forms = list(EvidenceForm)
    for n in range(start, start + count):
        evidence_type = types[n % len(types)]
        collected = today - timedelta(days=(n * 37) % 730)
        form = forms[n % len(forms)]
        automated = n % 17 == 0
        yield Evidence(
            organisation=organisation,
            title=f"{TITLES[n % len(TITLES)]} ({n // len(TITLES) + 1})",
            description=f"Shows the control working in practice, item {n}.",
            form=form,
            evidence_type=evidence_type,
            status=statuses[(n * 7) % len(statuses)],
            source=EvidenceSource.GOOGLE_WORKSPACE if automated else EvidenceSource.MANUAL,
            source_key=f"google.check.{n}" if automated else "",
            owner_id=owners[n % len(owners)],
            collected_on=collected,
            valid_until=None if n % 23 == 0 else collected + timedelta(days=FRESHNESS_DAYS[evidence_type]),
            url=f"https://intranet.example.co.uk/evidence/{n}" if form == EvidenceForm.LINK else "",
            note="Checked in person on site." if form == EvidenceForm.NOTE else "",
            extracted_text=EXTRACTED_TEXT,
            quality=(n * 13) % 101,
            created_at=now - timedelta(minutes=n),
            updated_at=now - timedelta(minutes=n),
        )


def _add_revisions(items: list[Any]) -> None:
    """A stored-file row for every file item, so the register joins revisions as it does in real life.
    The files themselves are not written: the register never opens them."""
    from evidence.models import Evidence, EvidenceForm, EvidenceRevision

    files = [item for item in items if item.form == EvidenceForm.FILE]
    revisions = EvidenceRevision.objects.bulk_create(
        (
            EvidenceRevision(
                organisation_id=item.organisation_id,
                evidence=item,
                number=1,
                file=f"evidence/{item.organisation_id}/bench/{item.pk}.pdf",
                original_name=f"evidence-{item.pk}.pdf",
                file_kind="pdf",
                content_type="application/pdf",
                size=20_000 + (item.pk * 7919) % 4_000_000,
                sha256=f"{item.pk:064x}",
            )
            for item in files
        ),
        batch_size=1000,
    )
    for item, revision in zip(files, revisions, strict=True):
        item.current_revision = revision
        item.sha256 = revision.sha256
    Evidence.objects.bulk_update(files, ["current_revision", "sha256"], batch_size=1000)


def _map_controls(items: list[Any], controls: list[int], start: int) -> int:
    from evidence.models import Evidence

    if not controls:
        return 0
    Link = Evidence.controls.through
    links = [
        Link(evidence_id=item.pk, control_id=controls[(i * 31 + j * 97) % len(controls)])
        for i, item in enumerate(items, start=start)
        for j in range(i % (MAX_CONTROLS_PER_ITEM + 1))
    ]
    Link.objects.bulk_create(links, batch_size=2000, ignore_conflicts=True)
    return len(links)


# --- A 25 MB upload ------------------------------------------------------------------------------
def _time_upload(data: BenchData) -> None:
    """Upload a 25 MB CSV through the service into a throwaway folder, tracing Python's allocations."""
    from django.conf import settings
    from django.test import override_settings

    size = min(UPLOAD_BYTES, settings.EVIDENCE_MAX_UPLOAD_BYTES) - 4096  # just under the cap
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-upload-") as folder:
        source = Path(folder) / "user-sign-ins-export.csv"
        _write_csv(source, size)
        storages = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(Path(folder) / "stored")},
            },
        }
        with override_settings(STORAGES=storages):
            seconds, peak, title = _upload(data, source)
    data.record(
        UPLOAD,
        Result(
            median_ms=seconds * 1000,
            peak_kib=peak / 1024,
            detail=f"a {size / 1024 / 1024:.1f} MB CSV through evidence_upload (“{title}”), timed once while traced",
        ),
    )


def _write_csv(path: Path, size: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("user_id,email,two_step_enrolled,last_sign_in,device\n")
        written, n = 0, 0
        while written < size:
            line = (
                f"{n},person{n}@bakery.example.co.uk,{'yes' if n % 9 else 'no'},"
                f"2026-11-{n % 28 + 1:02d}T{n % 24:02d}:{n % 60:02d}:00Z,laptop-{n % 400:04d}\n"
            )
            handle.write(line)
            written += len(line)
            n += 1
    with path.open("r+b") as handle:
        handle.truncate(size)


def _upload(data: BenchData, source: Path) -> tuple[float, int, str]:
    from django.core.files import File

    from accounts.audit import Actor
    from evidence.kinds import EvidenceType
    from evidence.services.items import EvidenceDetails, evidence_delete, evidence_upload

    owner = data.users["owner"]
    details = EvidenceDetails(
        title="Sign-in export for every user", evidence_type=EvidenceType.LOG, owner=owner, submit=True
    )
    gc.collect()
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with source.open("rb") as handle:
            evidence = evidence_upload(
                organisation=data.organisation,
                actor=Actor(user=owner),
                file=File(handle, name=source.name),
                name=source.name,
                details=details,
            )
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    title = evidence.title
    evidence_delete(evidence=evidence, actor=Actor(user=owner))  # the register scenarios count 10,000 items
    return seconds, peak, title


# --- Scenarios -----------------------------------------------------------------------------------
def _register(
    name: str, query: dict[str, str] | None = None, *, htmx: bool = False, small: Small | None = None
) -> Scenario:
    return Scenario(
        f"evidence: {name}",
        "evidence_list",
        as_user="owner",
        query=query or {},
        htmx=htmx,
        budget_ms=PAGE_BUDGET_MS,
        issue=ISSUE,
        small=small,
    )


SCENARIOS = [
    _register(f"register ({ITEMS:,} items)", small=Small()),
    _register("ISO 27001 + submitted (htmx)", {"framework": "iso27001-2022", "status": "submitted"}, htmx=True),
    _register("sorted by expiry", {"sort": "valid_until"}),
    _register("search 'firewall' (htmx)", {"q": "firewall"}, htmx=True),
    _register("page 40 (htmx)", {"page": "40"}, htmx=True),
]
