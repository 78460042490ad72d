"""Citizen reports (通報): the public form and the reporter's status link; staff moderation."""

from __future__ import annotations

from fastapi import APIRouter

public_router = APIRouter(tags=["citizen reports / 通報"])
router = APIRouter(tags=["citizen reports / 通報"])
