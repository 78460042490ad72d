"""Every status an operation can answer, in its OpenAPI, derived from the routes rather than written by
hand on each of them.

FastAPI documents the 2xx and its own 422. The rest follows from what a route declares:

- a login dependency (``deps.current_user``) → 401; a role check (``deps.require_roles``) → 401, 403;
- path parameters, or a body naming another record (``*_id``, ``token``, ``layer``) → 404;
- any parameter or body → 422 (``/ogc`` keeps the standard's 400);
- a body → 413 (bodies are capped per route); a write with a login → 403 (rights on the record itself,
  such as the owner department's) and 409 (the state changed meanwhile, or what is asked is taken);
- every operation → 503 (no database connection free in time: ``Busy``).

``SPECIAL`` adds what the signature cannot show (If-Match on incident updates, login throttling, the
multipart forms read by hand). Every error answers the one shape of ``common.errors.error_body``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute

from common.errors import STATUS_TEXT
from gisapp import deps

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message_ja", "message_en"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_input"]},
                "message_ja": {"type": "string"},
                "message_en": {"type": "string"},
            },
            "additionalProperties": True,  # details: field, problems, current state …
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
HEADERS = {
    401: {"WWW-Authenticate": "Bearer"},
    429: {"Retry-After": "seconds to wait"},
    503: {"Retry-After": "seconds to wait"},
}
WRITES = {"post", "put", "patch", "delete"}
RECORD_FIELDS = {"token", "layer", "slug"}  # body fields that name another record (as *_id do)
MULTIPART = {"type": "object", "additionalProperties": True}

# (method, path) -> statuses beyond what the route's signature shows, and a body it reads by hand.
SPECIAL: dict[tuple[str, str], dict] = {
    ("patch", "/api/incidents/{incident_id}"): {"statuses": {428}},  # If-Match required
    ("put", "/api/incidents/{incident_id}/damage"): {"statuses": {428}},  # If-Match required
    ("patch", "/api/incidents/{incident_id}/damage"): {"statuses": {428}},
    ("post", "/api/auth/login"): {"statuses": {401, 429}},  # wrong password; throttled
    ("post", "/api/reports"): {"statuses": {413, 422, 429}, "form": True},  # per-sender rate limit
    ("post", "/api/incidents/{incident_id}/photos"): {"statuses": {413}, "form": True},
    ("post", "/api/public/evacuation-status"): {"statuses": {409}},  # no disaster open
    ("post", "/api/evacuation-status"): {"statuses": {409}},
    ("post", "/api/auth/logout"): {"drop": {403, 409}},
    ("get", "/api/maps/situation.pdf"): {"statuses": {404}},  # the disaster is named in the query
    ("get", "/api/chronology/handover"): {"statuses": {404}},
    ("patch", "/api/shelter-needs/{need_id}"): {"statuses": {428}},  # If-Match required
    ("get", "/basemap/tilejson.json"): {"statuses": {404}},  # no basemap configured
    ("get", "/basemap/style.json"): {"statuses": {404}},
}


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` by one that documents every status (call once, after the routers)."""
    generate = app.openapi

    def openapi() -> dict:
        schema = generate()  # FastAPI's, cached by FastAPI until the routes change
        if getattr(app.state, "openapi_documented", None) is not schema:
            document(schema, _routes(app))
            app.state.openapi_documented = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _routes(app: FastAPI) -> list:
    try:  # FastAPI ≥ 0.16x nests included routers; the contexts carry the effective path and dependant
        from fastapi.routing import iter_route_contexts

        found = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    except ImportError:  # older FastAPI: a flat list
        found = [r for r in app.routes if isinstance(r, APIRoute)]
    return [r for r in found if r.include_in_schema]


def _calls(dependant) -> Iterator[Callable]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def auth_statuses(dependant) -> set[int]:
    """401 for a route that needs a login, 401 and 403 for one that needs a role."""
    found: set[int] = set()
    for call in _calls(dependant):
        if call is deps.current_user:
            found.add(401)
        elif getattr(call, "__qualname__", "").startswith(deps.require_roles.__qualname__ + "."):
            found |= {401, 403}
    return found


def statuses(method: str, path: str, operation: dict, dependant, components: dict) -> set[int]:
    """What one operation can answer besides its 2xx."""
    method = method.lower()
    found = auth_statuses(dependant) | {503}
    params = operation.get("parameters", [])
    body = operation.get("requestBody")
    special = SPECIAL.get((method, path), {})
    if body or special.get("form"):
        found.add(413)
    if params or body:
        found.add(400 if path.startswith("/ogc") else 422)
    if any(p["in"] == "path" for p in params) or _names_a_record(body, components):
        found.add(404)
    if method in WRITES and 401 in found:
        found |= {403, 409}  # rights on the record itself (owner department …), and a changed state
    return (found | special.get("statuses", set())) - special.get("drop", set())


def _names_a_record(body: dict | None, components: dict) -> bool:
    """A body with a field naming another record (``*_id``, ``token``, ``layer``) can point at none."""
    for content in (body or {}).get("content", {}).values():
        schema = content.get("schema", {})
        ref = schema.get("$ref", "")  # FastAPI puts a model's schema in the components
        props = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}) if ref else {}
        if any(
            name.endswith("_id") or name in RECORD_FIELDS for name in props or schema.get("properties", {})
        ):
            return True
    return False


def document(schema: dict, routes: list) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    # Our handler answers invalid input in the one error shape, not FastAPI's {"detail": [...]}.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    by_key = {(m.lower(), r.path_format): r for r in routes for m in r.methods}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            route = by_key.get((method, path))
            if route is None:
                continue
            special = SPECIAL.get((method, path), {})
            if special.get("form") and "requestBody" not in operation:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": MULTIPART}},
                }
            responses = operation.setdefault("responses", {})
            derived = statuses(method, path, operation, route.dependant, components)
            if 422 not in derived:
                responses.pop("422", None)  # FastAPI's guess; /ogc answers the standard's 400
            for status in sorted(derived):
                responses[str(status)] = _response(status)


def _response(status: int) -> dict:
    ja, en = STATUS_TEXT.get(status, ("エラー", "Error"))
    answer = {"description": f"{en} / {ja}", "content": {"application/json": {"schema": ERROR_REF}}}
    if status in HEADERS:
        answer["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in HEADERS[status].items()
        }
    return answer
