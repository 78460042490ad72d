"""Incidents of the categories HQ made public (e.g. 通行止め), with their status only."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["public incidents / 公開事案"])
