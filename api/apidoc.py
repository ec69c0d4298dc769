"""``/docs``: the API's documentation page (Swagger UI), served with its script and style from the
app itself (npm's ``swagger-ui-dist``, copied by ``make assets``): it works on an intranet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

ASSETS = "/static/vendor/swagger-ui-dist"


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    root = str(request.base_url).rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="gisplan 接口文档 · API",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
    )
