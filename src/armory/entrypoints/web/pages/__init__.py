"""The web UI (SPEC §7): server-rendered pages over the same services as the API."""

from __future__ import annotations

from fastapi import APIRouter

from armory.entrypoints.web.pages import (
    board,
    boxes,
    day,
    firearms,
    incidents,
    labels,
    ledger,
    scan,
    scenes,
    signin,
)

AREAS = (signin, board, firearms, boxes, day, scenes, incidents, scan, labels, ledger)

router = APIRouter(include_in_schema=False)
for area in AREAS:
    router.include_router(area.router)
