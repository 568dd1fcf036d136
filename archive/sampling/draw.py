"""The draw, pure: frozen populations and a seed in, the sample and the reviewers out.

Anyone can redo it by hand (README "Sampling"), in the spirit of RFC 3797:

* a stratum's population is its case numbers sorted by code point; its digest is
  SHA-256 over those numbers joined by "\\n" (UTF-8, no trailing newline), lowercase hex;
* a file's rank is HMAC-SHA256(key = seed as UTF-8, msg = case number as UTF-8), lowercase hex;
  each stratum takes its ``k`` lowest ranks;
* the sampled files are then given reviewers in order: strata by (agency code, kind), files by
  rank. A reviewer's rank for a file is HMAC-SHA256(seed, case number + "/" + username); the
  lowest-ranked eligible reviewers are taken. Eligible: not of the file's own agency, no declared
  conflict with the file or its agency, fewer than ``max_load`` files so far.
"""
from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence


class DrawError(Exception):
    """The constraints cannot be met; ``details`` says where and why. Nothing is bent."""

    def __init__(self, message: str, details: dict[str, list[str]],
                 shortfalls: dict[str, list[dict[str, int | str]]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.shortfalls = shortfalls or {}  # the same, as figures: each page says them in its language


def population_digest(numbers: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(numbers)).encode("utf-8")).hexdigest()


def rank(seed: str, message: str) -> str:
    return hmac.new(seed.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sample_size(population: int, *, count: int | None, rate: float | None, minimum: int,
                maximum: int | None) -> int:
    """How many files a stratum of ``population`` gives: the count, or the rate rounded up,
    then at least ``minimum``, at most ``maximum`` and never more than there are."""
    if count is not None:
        k = count
    elif rate is not None:
        k = math.ceil(population * rate - 1e-9)
    else:
        raise ValueError("a plan gives a count or a rate")
    k = max(k, minimum)
    if maximum is not None:
        k = min(k, maximum)
    return min(k, population)


def select(seed: str, numbers: Sequence[str], k: int) -> list[str]:
    """The ``k`` numbers with the lowest ranks, lowest first."""
    return sorted(numbers, key=lambda n: rank(seed, n))[:k]


@dataclass(frozen=True)
class Reviewer:
    username: str
    agency: str | None
    conflict_agencies: frozenset[str] = frozenset()
    conflict_cases: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SampledFile:
    stratum: str  # "agency/kind"
    number: str
    agency: str


@dataclass
class Assignment:
    number: str
    reviewer: str
    rank: str


@dataclass
class AssignResult:
    assignments: list[Assignment] = field(default_factory=list)
    load: dict[str, int] = field(default_factory=dict)


def assign(seed: str, files: Sequence[SampledFile], pool: Sequence[Reviewer], per_file: int,
           max_load: int) -> AssignResult:
    """Reviewers for every file, in the given order; DrawError names every file that cannot
    get ``per_file`` eligible reviewers, and why."""
    out = AssignResult(load={r.username: 0 for r in pool})
    problems: dict[str, list[str]] = {}
    shortfalls: dict[str, list[dict[str, int | str]]] = {}
    for f in files:
        own = conflict = busy = 0
        eligible = []
        for r in pool:
            if r.agency == f.agency:
                own += 1
            elif f.agency in r.conflict_agencies or f.number in r.conflict_cases:
                conflict += 1
            elif out.load[r.username] >= max_load:
                busy += 1
            else:
                eligible.append((rank(seed, f"{f.number}/{r.username}"), r.username))
        if len(eligible) < per_file:
            shortfalls.setdefault(f.stratum, []).append({
                "number": f.number, "need": per_file, "eligible": len(eligible), "pool": len(pool), "own": own,
                "conflict": conflict, "limit": max_load, "busy": busy})
            problems.setdefault(f.stratum, []).append(
                f"{f.number}: needs {per_file} reviewers, {len(eligible)} eligible of {len(pool)} "
                f"(own agency {own}, declared conflict {conflict}, at the load limit {max_load}: {busy})")
            continue
        for r_rank, username in sorted(eligible)[:per_file]:
            out.assignments.append(Assignment(f.number, username, r_rank))
            out.load[username] += 1
    if problems:
        raise DrawError("the reviewer pool cannot meet the plan's constraints / 评查人员不足", problems, shortfalls)
    return out
