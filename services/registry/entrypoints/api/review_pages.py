"""The analysts' side of the dashboard, under /review/: signing in with an analyst key
(a session cookie: HttpOnly, SameSite=Strict, Secure over https or when PUBLIC_BASE_URL
is https, sent to /review/ only), the review queue, and the review panel that
/static/review.js shows beside the evidence of an alliance's page.

Every POST carries the session's CSRF token and is refused from another origin (a 403
that says why). An action is the registry's review use case (``RegistryService.review``)
called with the signed-in analyst, with the JSON API's refusals (404, 409, 422) and their
reasons; a fetch (``Accept: application/json``) gets them as JSON, a plain form post as a
page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.common.contracts import Alliance, EventType
from services.common.web_sessions import (
    Form,
    SessionCookies,
    SignInRequired,
    install_session_answers,
    login_token,
    one,
    origin_of,
    read_form,
)
from services.registry.analyst_sessions import AnalystSession, AnalystSessions, WrongKey
from services.registry.config import RegistrySettings
from services.registry.entrypoints.api import review_html as views
from services.registry.entrypoints.api.deps import Queries, Repository, refuse_unknown_places
from services.registry.entrypoints.api.review import run_review_action
from services.registry.metrics import REVIEW_ACTIONS
from services.registry.service import RegistryService

PATH = "/review"
ACTIONS = ("confirm", "correct", "reject")
_SEPARATORS = re.compile(r"[\n\r、,，;；]+")
#: Where the sign-in page may send an analyst back to: a page of the dashboard.
_NEXT = re.compile(r"^/(review/[\w/-]*|alliances/[\w-]{1,40})$")


def _settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.settings
    return settings


COOKIES = SessionCookies(
    session="aw_analyst",
    #: The sign-in form's own CSRF token (double submit): there is no session yet.
    login="aw_analyst_login",
    path=PATH,
    always_secure=lambda request: _settings(request).public_base_url.startswith("https://"),
    #: Behind a proxy, the browser names the address the dashboard is published at.
    trusted_origins=lambda request: (origin_of(_settings(request).public_base_url),),
)


def get_sessions(request: Request) -> AnalystSessions:
    sessions: AnalystSessions = request.app.state.analyst_sessions
    return sessions


Sessions = Annotated[AnalystSessions, Depends(get_sessions)]


def optional_session(request: Request, sessions: Sessions) -> AnalystSession | None:
    token = COOKIES.token(request)
    return sessions.session(token) if token else None


def current_session(
    request: Request, found: Annotated[AnalystSession | None, Depends(optional_session)]
) -> AnalystSession:
    if found is None:
        raise SignInRequired(expired=bool(COOKIES.token(request)))
    return found


Session = Annotated[AnalystSession, Depends(current_session)]


async def checked_form(request: Request, session: Session) -> Form:
    """The posted form, once it comes from this site with the session's CSRF token."""
    form = await read_form(request)
    COOKIES.check_form(request, one(form, "csrf"), session.csrf)
    return form


CheckedForm = Annotated[Form, Depends(checked_form)]


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def safe_next(value: str | None) -> str:
    """A page of the dashboard to go back to after signing in; the queue otherwise."""
    return value if value and _NEXT.match(value) else f"{PATH}/"


router = APIRouter(prefix=PATH, include_in_schema=False)


def _login_page(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    token = login_token()
    body = views.login(
        token,
        _settings(request).analyst_session_hours,
        next_path=next_path,
        error=error,
        notice=notice,
    )
    answer = views.page("分析员登录", body, name="login", status_code=status_code)
    COOKIES.offer_login_form(request, answer, token)
    return answer


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    found: Annotated[AnalystSession | None, Depends(optional_session)],
    msg: Annotated[str | None, Query(max_length=20)] = None,
    next: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    if found is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next), notice=msg)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, sessions: Sessions) -> Response:
    form = await read_form(request)
    COOKIES.check_login_form(request, one(form, "csrf"))
    next_path = safe_next(one(form, "next"))
    try:
        signed = await run_in_threadpool(sessions.sign_in, one(form, "api_key"))
    except WrongKey:
        return _login_page(
            request,
            next_path=next_path,
            error="审核密钥不正确或已被吊销，请核对后重新输入。",
            status_code=401,
        )
    answer = RedirectResponse(next_path, status_code=303)
    COOKIES.start(request, answer, signed.token, int(sessions.lifetime.total_seconds()))
    return answer


@router.post("/logout")
async def logout(request: Request, sessions: Sessions, form: CheckedForm) -> Response:
    await run_in_threadpool(sessions.sign_out, COOKIES.token(request))
    answer = RedirectResponse(f"{PATH}/login?msg=signed_out", status_code=303)
    COOKIES.end(request, answer)
    return answer


@router.get("/", response_class=HTMLResponse)
def queue_page(
    session: Session,
    queries: Queries,
    province: Annotated[str | None, Query(max_length=40)] = None,
    type: Annotated[EventType | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """The unreviewed alliances, least certain first, 50 at a time; the keys walk them."""
    province = province or None
    try:
        refuse_unknown_places(province=province)
        views_, next_cursor = queries.review_queue(50, cursor, province=province, type=type)
    except HTTPException as exc:
        return views.message(
            "筛选条件有误", "省份名称无法识别。", status_code=exc.status_code, session=session
        )
    except ValueError:
        return views.message(
            "链接已失效", "翻页链接无效，请从第一页开始。", status_code=400, session=session
        )
    next_url = None
    if next_cursor:
        params = {"province": province or "", "type": type.value if type else ""}
        params = {k: v for k, v in params.items() if v}
        next_url = f"{PATH}/?{urlencode({**params, 'cursor': next_cursor})}"
    body = views.queue(views_, province=province, kind=type, next_url=next_url)
    return views.page("审核队列", body, name="queue", session=session)


AllianceId = Annotated[str, PathParam(max_length=40)]


def _panel_html(
    queries: Queries, session: AnalystSession, alliance_id: str, with_evidence: bool
) -> str | None:
    view = queries.get_alliance(alliance_id)
    if view is None:
        return None
    if view.merged_into:
        return (
            '<div class="review-box" id="review-box" data-status="merged">'
            '<h2>分析员审核</h2><p id="review-merged">此联盟已并入 '
            f'<a href="/alliances/{views.e(view.merged_into)}">另一条记录</a>，请在那里审核。</p>'
            "</div>"
        )
    return views.panel(
        view, queries.history(alliance_id) or [], session, with_evidence=with_evidence
    )


@router.get("/alliances/{alliance_id}/panel", response_class=HTMLResponse)
def review_panel(
    alliance_id: AllianceId,
    queries: Queries,
    found: Annotated[AnalystSession | None, Depends(optional_session)],
    evidence: bool = False,
) -> Response:
    """The review panel of one alliance, for review.js to show; 204 (nothing to show)
    when no analyst is signed in."""
    if found is None:
        return Response(
            status_code=status.HTTP_204_NO_CONTENT, headers={"Cache-Control": "no-store"}
        )
    html = _panel_html(queries, found, alliance_id, evidence)
    if html is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alliance {alliance_id}")
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def split_names(text: str) -> list[str]:
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]


def changes_of(form: Form, alliance: Alliance) -> dict[str, Any]:
    """The fields of the edit form that differ from the alliance's current values: only
    those are corrected (and so locked)."""
    current = views.edit_values(alliance)
    found: dict[str, Any] = {}
    for field in ("lead", "members", "provinces"):
        if field in form:
            wanted = split_names(one(form, field))
            now = split_names(current[field])
            # The order of provinces means nothing; that of institutions is kept.
            if (set(wanted) != set(now)) if field == "provinces" else (wanted != now):
                found[field] = wanted
    if "type" in form and one(form, "type") and one(form, "type") != current["type"]:
        found["type"] = one(form, "type")
    for field in ("specialty", "date"):
        if field in form and one(form, field) != current[field]:
            found[field] = one(form, field) or None
    return found


class Refused(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _review(
    repository: RegistryService,
    queries: Queries,
    alliance_id: str,
    session: AnalystSession,
    form: Form,
) -> None:
    """One review action from a posted form, through the same use case and the same
    refusals as ``POST /v1/alliances/{id}/review``."""
    action = one(form, "action")
    if action not in ACTIONS:
        raise Refused(422, f"未知的操作 {action!r}：只能是 confirm、correct 或 reject")
    view = queries.get_alliance(alliance_id)
    if view is None:
        raise Refused(404, f"no alliance {alliance_id}")
    changes = None
    if action == "correct":
        changes = changes_of(form, view.alliance)
        if not changes:
            raise Refused(422, "没有改动任何字段：请修改后再保存，或直接确认")
    note = one(form, "note") or None
    try:
        run_review_action(
            lambda: repository.review(
                alliance_id,
                session.analyst,
                action,
                datetime.now(UTC),
                changes=changes,
                note=note,
            )
        )
    except HTTPException as exc:
        raise Refused(exc.status_code, str(exc.detail)) from exc
    REVIEW_ACTIONS.labels(action).inc()


@router.post("/alliances/{alliance_id}/review", response_class=HTMLResponse)
async def review_action(
    request: Request,
    alliance_id: AllianceId,
    form: CheckedForm,
    session: Session,
    repository: Repository,
    queries: Queries,
    evidence: bool = False,
) -> Response:
    """Confirm, correct or reject; a fetch gets the panel after it (or the refusal) as
    JSON, a plain form post goes back to the alliance's page."""
    try:
        await run_in_threadpool(_review, repository, queries, alliance_id, session, form)
    except Refused as refused:
        if wants_json(request):
            return JSONResponse({"detail": refused.detail}, status_code=refused.code)
        return views.message(
            "操作未完成",
            "审核操作未被接受。",
            status_code=refused.code,
            detail=f"原因：{refused.detail}",
            back=f"/alliances/{alliance_id}",
            back_label="返回联盟详情",
            session=session,
        )
    if not wants_json(request):
        return RedirectResponse(f"/alliances/{alliance_id}", status_code=303)
    after = await run_in_threadpool(_after, queries, session, alliance_id, evidence)
    return JSONResponse(after, headers={"Cache-Control": "no-store"})


def _after(
    queries: Queries, session: AnalystSession, alliance_id: str, with_evidence: bool
) -> dict[str, str | None]:
    """What a fetch gets after an action: the alliance's status and its panel now."""
    view = queries.get_alliance(alliance_id)
    return {
        "status": view.review.status if view else None,
        "panel": _panel_html(queries, session, alliance_id, with_evidence),
    }


def install(app: FastAPI, repository: RegistryService, settings: RegistrySettings) -> None:
    """The review pages and their answers to a missing session, a refused post and a
    form too large."""
    app.state.analyst_sessions = AnalystSessions(
        repository, lifetime=timedelta(hours=settings.analyst_session_hours)
    )
    app.include_router(router)

    install_session_answers(
        app, COOKIES, login_path=f"{PATH}/login", message=views.message, wants_json=wants_json
    )
