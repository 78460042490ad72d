"""The one error model: the same JSON shape and both languages for every error, 422 for invalid input
across /api (400 kept by the OGC API), 405 naming every method served at the path."""

from __future__ import annotations

import pytest

from common.errors import Conflict, Forbidden, InvalidInput, NotFound, UserError
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound
from layers.errors import LayerConflict, LayerForbidden, LayerInvalid, LayerNotFound
from layers.importers.errors import ImportRejected
from tests.fixtures_data import seed


def _error(r) -> dict:
    body = r.json()["error"]
    assert body["message_ja"] and body["message_en"] and body["code"], r.text
    return body


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/api/layers", "PUT", {"GET", "POST"}),
        ("/api/layers/some-layer", "GET", {"PATCH", "DELETE"}),
        ("/api/people/disaster-mode", "PUT", {"GET", "POST", "DELETE"}),
        ("/api/public/shelters/status", "POST", {"GET"}),
    ],
)
def test_405_names_every_method_served_at_the_path(client, path, method, allowed):
    r = client.request(method, path)
    assert r.status_code == 405
    assert set(r.headers["allow"].replace(" ", "").split(",")) == allowed
    assert _error(r)["code"] == "http_405"


def test_invalid_input_is_422_on_the_api_and_400_on_ogc(client, app_engine):
    api = client.get("/api/public/search", params={"q": ""})
    assert api.status_code == 422 and _error(api)["problems"]
    slug = seed(app_engine, "errm").slugs["public"]
    ogc = client.get(f"/ogc/collections/{slug}/items", params={"limit": "many"})
    assert ogc.status_code == 400 and _error(ogc)["parameter"] == "limit"
    tile = client.get(f"/ogc/collections/{slug}/tiles/WebMercatorQuad/z/0/0")
    assert tile.status_code == 400 and _error(tile)["code"] == "invalid_input"
    unknown = client.get("/api/no-such-route")
    assert unknown.status_code == 404 and _error(unknown)["code"] == "http_404"


def test_every_domain_error_is_a_user_error_of_the_one_model():
    for cls, base, status in [
        (LayerNotFound, NotFound, 404),
        (LayerForbidden, Forbidden, 403),
        (LayerConflict, Conflict, 409),
        (LayerInvalid, InvalidInput, 422),
        (OpsNotFound, NotFound, 404),
        (OpsConflict, Conflict, 409),
        (OpsInvalid, InvalidInput, 422),
    ]:
        assert issubclass(cls, base) and issubclass(cls, UserError) and cls.status == status
    refused = ImportRejected("読めません", "unreadable", code="unreadable_file")
    assert isinstance(refused, InvalidInput) and refused.status == 422
    assert refused.body()["error"]["reason"] == "unreadable_file"
    assert ImportRejected("大きすぎます", "too large", code="archive_too_large").status == 413
