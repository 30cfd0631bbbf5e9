"""The bureau portal at /portal/: pages in Chinese for the officials who subscribe, over
the same service layer as the JSON API. ``install`` adds it to notify's app."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.staticfiles import StaticFiles

from services.common.web_sessions import install_session_answers
from services.notify.adapters.portal_store import PortalStore
from services.notify.entrypoints.portal import auth, routes, views
from services.notify.portal import BureauPortal
from services.notify.service import NotifyService

PREFIX = "/portal"


def install(app: FastAPI, service: NotifyService, *, session_hours: float) -> BureauPortal:
    portal = BureauPortal(
        service,
        PortalStore(service.repository.engine),
        lifetime=timedelta(hours=session_hours),
    )
    app.state.portal = portal
    app.include_router(auth.router)
    app.include_router(routes.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=views.WEB / "static"), name="portal-static")

    install_session_answers(app, auth.COOKIES, login_path=f"{PREFIX}/login", message=views.message)
    return portal


def is_portal(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def error_page(code: int) -> Response:
    """The portal's answer to NotFound / Conflict / Invalid raised by the service layer."""
    if code == 404:
        return views.message(
            "未找到", "没有找到这条记录：它不存在，或不属于贵单位。", status_code=404
        )
    if code == 409:
        return views.message("无法执行", "当前状态下不能进行此操作。", status_code=409)
    return views.message("请求未被接受", "提交的内容不符合要求。", status_code=code)
