"""The staff dashboard at /staff: server-rendered pages over the same desk functions as the staff group.

Every page needs a signed-in staff member (a server-side session behind an HttpOnly, SameSite=Strict cookie);
every POST carries the session's CSRF token; every response carries a strict CSP and no-store. The only page
that shows what a person wrote is a case page, and each view of it is written to the audit trail.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
import re
import secrets
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.dashboard import auth
from bot.dashboard.actions import CASE_ACTIONS, WORKSPACE_ACTIONS, WebDesk
from bot.dashboard.auth import Viewer
from bot.web import origin_of
from handlers import desk as desks
from handlers.desk import OUTCOMES, humanise
from handlers.triage import NORMAL, assess
from storage.models import AuditAction, Case, CaseDetails, CaseState, Message, OutboxItem, Staff
from storage.report import report, report_rows
from storage.staff import active_staff, add_staff, audit

log = logging.getLogger(__name__)

BOT = Path(__file__).resolve().parent.parent
TEMPLATES = BOT / "templates"
STATIC = BOT / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CODE = re.compile(r"^K-[0-9A-Z]{4,6}$")
MAX_FORM = 64 * 1024
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
KIND_LABELS = {"question": "Fråga", "application": "Ansökan", "call": "Samtal", "danger": "Fara", "checkin": "Incheckning"}
STATE_LABELS = {"open": "Öppet", "claimed": "Taget", "closed": "Avslutat"}
OUTCOME_LABELS = {"housing": "Eget boende", "income": "Inkomst", "occupation": "Sysselsättning", "referred": "Hänvisad",
                  "withdrew": "Avböjde", "no_contact": "Ingen kontakt", "answered": "Besvarad", "reached": "Nådd",
                  "no_answer": "Inget svar"}  # fmt: skip
NEED_LABELS = {"housing": "boende", "income": "inkomst/jobb", "debts": "skulder", "studies": "studier", "safety": "säkerhet/hot",
               "substances": "droger/alkohol", "family": "familj", "other": "annat"}  # fmt: skip

Handler = Callable[..., Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
CROSS_SITE = ("Formuläret kom från en annan sida",
              "Av säkerhetsskäl tar vi bara emot formulär från den här sidan. Öppna sidan igen och försök på nytt.")
STALE_FORM = ("Formuläret har gått ut", "Formuläret saknade sin säkerhetskod eller hade en gammal. Ladda om sidan och försök igen.")
LEAD_ONLY = ("Bara för ansvarig", "Den här sidan är bara för den som är ansvarig. Be en ansvarig om hjälp.")
TOO_LARGE = ("För mycket text", "Formuläret var för stort. Korta texten och försök igen.")
OUR_FAULT = ("Något gick fel", "Något gick fel hos oss. Försök igen om en stund. Händer det igen: säg till IT.")


class FormTooLarge(Exception):
    pass


class Refusal(Exception):
    """A request we will not carry out; the message is the sentence the page shows."""

    def __init__(self, status: int, title: str, sentence: str) -> None:
        super().__init__(title)
        self.status, self.title, self.sentence = status, title, sentence


class Dashboard:
    """Routes for `build_app`; needs the runtime's sessions, clock, catalogue, profile, settings and dispatcher."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.sessions = runtime.sessions
        self.clock = runtime.clock
        self.catalogue = runtime.engine.catalogue
        self.profile = runtime.profile
        public_url = runtime.settings.public_url or ""
        self.origin = origin_of(public_url) if public_url else None  # behind a proxy, Host is not what the browser saw
        self.secure = public_url.startswith("https://")
        prefix = "__Host-" if self.secure else ""
        self.cookie, self.login_cookie = f"{prefix}utvag_staff", f"{prefix}utvag_staff_login"
        self.device_cookie = f"{prefix}utvag_staff_device"
        self.templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                                     undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)  # fmt: skip
        self.templates.filters["local"] = self._local
        self.routes: list[BaseRoute] = [
            Route("/staff", self._page(self.queue_page), methods=["GET"]),
            Route("/staff/login", self._page(self.login_page, public=True), methods=["GET"]),
            Route("/staff/login", self._page(self.login, public=True), methods=["POST"]),
            Route("/staff/logout", self._page(self.logout), methods=["POST"]),
            Route("/staff/static/dashboard.css", self._page(self.stylesheet, public=True), methods=["GET"]),
            Route("/staff/case/{code}", self._page(self.case_page), methods=["GET"]),
            Route("/staff/case/{code}/{action}", self._page(self.case_action), methods=["POST"]),
            Route("/staff/do/{action}", self._page(self.workspace_action), methods=["POST"]),
            Route("/staff/numbers", self._page(self.numbers_page), methods=["GET"]),
            Route("/staff/numbers.csv", self._page(self.numbers_csv, lead=True, html=False), methods=["GET"]),
            Route("/staff/team", self._page(self.team_page, lead=True), methods=["GET"]),
            Route("/staff/team/add", self._page(self.team_add, lead=True), methods=["POST"]),
            Route("/staff/team/{staff_id:int}/remove", self._page(self.team_remove, lead=True), methods=["POST"]),
            Route("/staff", self._page(self.not_found, public=True), methods=ALL_METHODS[1:]),
            Route("/staff/{rest:path}", self._page(self.not_found, public=True), methods=ALL_METHODS),
        ]

    # --- the request pipeline ---------------------------------------------------------------------------

    def _page(self, handler: Handler, *, public: bool = False, lead: bool = False, html: bool = True) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            viewer: Viewer | None = None
            try:
                form = FormData()
                if request.method == "POST":
                    if not _same_origin(request, self.origin):
                        raise Refusal(403, *CROSS_SITE)
                    form = await _read_form(request)
                if public:
                    response = await handler(request, form)
                else:
                    token = request.cookies.get(self.cookie)
                    now = self.clock.now()
                    viewer = await self._db(auth.current, token, now, take_flash=html and request.method == "GET")
                    if viewer is None:
                        response = RedirectResponse("/staff/login", status_code=303)
                        if token:
                            self._forget(response, self.cookie)
                    elif lead and not viewer.lead:
                        raise Refusal(403, *LEAD_ONLY)
                    elif request.method == "POST" and not auth.same(form.get("csrf") or "", viewer.csrf):
                        raise Refusal(403, *STALE_FORM)
                    else:
                        response = await handler(request, form, viewer)
            except Refusal as refusal:
                response = self._error(refusal.status, refusal.title, refusal.sentence, viewer)
            except FormTooLarge:
                response = self._error(413, *TOO_LARGE, viewer)
            except Exception as exc:  # never a stack trace to the browser; the log gets the frames, not the message
                frames = "".join(traceback.format_tb(exc.__traceback__))
                log.error("dashboard %s failed: %s\n%s", handler.__name__, type(exc).__name__, frames)
                response = self._error(500, *OUR_FAULT, viewer)
            response.headers.update(HEADERS)
            return response

        endpoint.__name__ = handler.__name__
        return endpoint

    async def _db(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `work(session, *args)` in one transaction, off the event loop."""

        def run() -> Any:
            with self.sessions.begin() as session:
                return work(session, *args, **kwargs)

        return await asyncio.to_thread(run)

    def _render(self, name: str, viewer: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.templates.get_template(name).render(viewer=viewer, flash=viewer.flash if viewer else None, **context)
        return HTMLResponse(body, status_code=status)

    def _error(self, status: int, title: str, sentence: str, viewer: Viewer | None) -> HTMLResponse:
        return self._render("error.html", viewer, status, title=title, sentence=sentence)

    def _cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=self.secure)

    def _forget(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=self.secure)

    def _local(self, moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        return moment.astimezone(self.profile.office_hours.zone).strftime(pattern) if moment else "–"

    def _wake(self) -> None:
        """Replies wait in the outbox; tell the dispatcher now rather than at its next look."""
        dispatcher, loop = getattr(self.runtime, "dispatcher", None), getattr(self.runtime, "_loop", None)
        if dispatcher is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and loop is not running and loop.is_running():
            loop.call_soon_threadsafe(dispatcher.wake.set)
        elif loop is running:
            dispatcher.wake.set()

    # --- logging in and out ---------------------------------------------------------------------------

    async def login_page(self, request: Request, _form: FormData, error: str | None = None, status: int = 200) -> Response:
        if error is None and await self._db(auth.current, request.cookies.get(self.cookie), self.clock.now()):
            return RedirectResponse("/staff", status_code=303)
        token = secrets.token_urlsafe(32)
        notice = "Du är utloggad." if request.query_params.get("ute") else None
        response = self._render("login.html", None, status, csrf=token, error=error, notice=notice)
        self._cookie(response, self.login_cookie, token, max_age=3600)
        return response

    async def login(self, request: Request, form: FormData) -> Response:
        expected = request.cookies.get(self.login_cookie) or ""
        if not expected or not auth.same(form.get("csrf") or "", expected):
            return await self.login_page(request, form, "Inloggningen hade gått ut. Försök igen.", 403)
        name, password = (form.get("name") or "").strip()[:80], (form.get("password") or "")[:1024]
        if not name or not password:
            return await self.login_page(request, form, "Skriv ditt namn och ditt lösenord.", 400)
        address = request.client.host if request.client else "unknown"
        old = request.cookies.get(self.cookie)
        device = request.cookies.get(self.device_cookie)

        def work(session: Session) -> auth.LoginResult:
            auth.log_out(session, old)  # never carry a session over a login
            return auth.log_in(session, name, password, address, self.clock.now(), device)

        result = await self._db(work)
        if result.limited:
            wait = _duration(result.wait)
            return await self.login_page(request, form, f"Många misslyckade inloggningar. Vänta {wait} och försök igen.", 429)
        if result.token is None:
            return await self.login_page(request, form, "Fel namn eller lösenord. Försök igen.", 401)
        response = RedirectResponse("/staff", status_code=303)
        self._cookie(response, self.cookie, result.token)
        if result.device:  # this browser is the person's own: guessing elsewhere never slows them down here
            self._cookie(response, self.device_cookie, result.device, max_age=auth.DEVICE_DAYS * 24 * 3600)
        self._forget(response, self.login_cookie)
        return response

    async def logout(self, request: Request, _form: FormData, _viewer: Viewer) -> Response:
        await self._db(auth.log_out, request.cookies.get(self.cookie), self.clock.now())
        response = RedirectResponse("/staff/login?ute=1", status_code=303)
        self._forget(response, self.cookie)
        return response

    async def stylesheet(self, _request: Request, _form: FormData) -> Response:
        return FileResponse(STATIC / "dashboard.css", media_type="text/css")

    async def not_found(self, request: Request, _form: FormData) -> Response:
        if request.url.path == "/staff/":
            return RedirectResponse("/staff", status_code=303)
        raise Refusal(404, "Sidan finns inte", "Den här sidan finns inte. Gå till kön och börja därifrån.")

    # --- the queue ------------------------------------------------------------------------------------

    async def queue_page(self, _request: Request, _form: FormData, viewer: Viewer) -> Response:
        rows = await self._db(self._queue_rows, viewer, self.clock.now())
        return self._render("queue.html", viewer, rows=rows, incident_text=self.catalogue.text("sv", "checkin.incident"),
                            areas=self.profile.unit.areas)  # fmt: skip

    def _queue_rows(self, session: Session, viewer: Viewer, now: datetime) -> list[dict[str, Any]]:
        names = {member.id: member.name for member in session.scalars(select(Staff))}
        cases = desks.queue(session)
        by_person: dict[str, list[str]] = {}
        for case in cases:
            if case.contact_id:
                by_person.setdefault(case.contact_id, []).append(case.code)
        rows = []
        for case in cases:
            overdue = desks.is_overdue(case, now)
            rows.append({"code": case.code, "kind": KIND_LABELS.get(case.kind, case.kind),
                         "state": STATE_LABELS.get(case.state, case.state),
                         "urgent": case.urgent, "check": not case.urgent and case.check_asked_at is not None,
                         "relative": case.relative, "waited": humanise(now - case.created_at),
                         "due": "FÖRSENAT" if overdue else self._local(case.due_at, "%d/%m %H:%M") if case.due_at else "–",
                         "overdue": overdue, "who": names.get(case.assigned_staff_id or 0, ""),
                         "mine": case.assigned_staff_id == viewer.staff_id,
                         "same_person": [code for code in by_person.get(case.contact_id or "", []) if code != case.code]})  # fmt: skip
        return rows

    # --- a case -----------------------------------------------------------------------------------------

    async def case_page(self, request: Request, _form: FormData, viewer: Viewer) -> Response:
        code = _code(request)
        view = await self._db(self._case_view, viewer, code, self.clock.now())
        return self._render("case.html", viewer, **view)

    def _case_view(self, session: Session, viewer: Viewer, code: str, now: datetime) -> dict[str, Any]:
        case = _find_case(session, code)
        audit(session, actor=_actor(viewer), action=AuditAction.VIEWED_TRANSCRIPT, now=now, case_id=case.id)
        holder = session.get(Staff, case.assigned_staff_id) if case.assigned_staff_id else None
        details = CaseDetails.of(case.details)
        transcript = []
        if case.contact_id:
            rows = session.execute(
                select(Message, OutboxItem.status).outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
                .where(Message.contact_id == case.contact_id, Message.kind != "start").order_by(Message.id)
            ).all()  # fmt: skip
            transcript = [{"mine": message.direction == "in", "at": message.created_at, "text": message.body or f"({message.kind})",
                           "channel": message.channel, "status": status} for message, status in rows]  # fmt: skip
        same_person = session.scalars(select(Case.code).where(
            Case.contact_id == case.contact_id, Case.contact_id.is_not(None), Case.state != CaseState.CLOSED, Case.id != case.id
        ).order_by(Case.id)).all()  # fmt: skip
        return {
            "alarm": _alarm(case, transcript), "same_person": same_person,
            "case": case, "kind": KIND_LABELS.get(case.kind, case.kind), "state": STATE_LABELS.get(case.state, case.state),
            "holder": holder.name if holder else None, "mine": holder is not None and holder.id == viewer.staff_id,
            "waited": humanise((case.closed_at or now) - case.created_at),
            "overdue": desks.is_overdue(case, now),
            "area": details.area, "areas": self.profile.unit.areas,
            "needs": [NEED_LABELS.get(need, need) for need in details.needs], "contact_way": details.contact_way,
            "times": details.times, "has_phone": bool(details.phone),
            "notes": (case.notes or "").splitlines(), "transcript": transcript,
            "outcome": " + ".join(OUTCOME_LABELS.get(part, part) for part in (case.outcome or "").split("+") if part),
            "outcomes": [(key, OUTCOME_LABELS[key]) for key in OUTCOMES],
            "colleagues": [(member.id, member.name) for member in active_staff(session) if member.id != viewer.staff_id],
        }  # fmt: skip

    async def case_action(self, request: Request, form: FormData, viewer: Viewer) -> Response:
        code, action = _code(request), request.path_params["action"]
        if action not in CASE_ACTIONS:
            raise Refusal(404, "Okänd åtgärd", "Den åtgärden finns inte. Gå tillbaka till ärendet och använd knapparna där.")
        await self._db(self._act, viewer, code, action, form, self.clock.now())
        self._wake()
        return RedirectResponse(f"/staff/case/{code}", status_code=303)

    def _act(self, session: Session, viewer: Viewer, code: str, action: str, form: FormData, now: datetime) -> None:
        case = _find_case(session, code)
        staff = session.get(Staff, viewer.staff_id)
        desk = WebDesk(session, self.catalogue, self.profile, now, staff)
        problem = CASE_ACTIONS[action](desk, case, form)
        auth.flash(session, viewer, problem or (desk.said[0] if desk.said else "Klart."))

    async def workspace_action(self, request: Request, form: FormData, viewer: Viewer) -> Response:
        action = request.path_params["action"]
        if action not in WORKSPACE_ACTIONS:
            raise Refusal(404, "Okänd åtgärd", "Den åtgärden finns inte. Gå tillbaka till kön och använd formulären där.")
        await self._db(self._do, viewer, action, form, self.clock.now())
        self._wake()
        return RedirectResponse("/staff", status_code=303)

    def _do(self, session: Session, viewer: Viewer, action: str, form: FormData, now: datetime) -> None:
        staff = session.get(Staff, viewer.staff_id)
        desk = WebDesk(session, self.catalogue, self.profile, now, staff)
        problem = WORKSPACE_ACTIONS[action](desk, form)
        auth.flash(session, viewer, problem or (desk.said[-1] if desk.said else "Klart."))

    # --- numbers ----------------------------------------------------------------------------------------

    async def numbers_page(self, _request: Request, _form: FormData, viewer: Viewer) -> Response:
        numbers = await self._db(report, self.clock.now())
        return self._render("numbers.html", viewer, numbers=numbers, kinds=KIND_LABELS, minutes=_minutes, share=_share)

    async def numbers_csv(self, _request: Request, _form: FormData, viewer: Viewer) -> Response:
        now = self.clock.now()

        def work(session: Session) -> dict:
            audit(session, actor=_actor(viewer), action=AuditAction.EXPORTED_NUMBERS, now=now)
            return report(session, now)

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(("section", "name", "value"))
        writer.writerows(report_rows(await self._db(work)))
        filename = f"utvag-siffror-{self._local(now, '%Y-%m-%d')}.csv"
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    # --- the team ---------------------------------------------------------------------------------------

    async def team_page(self, _request: Request, _form: FormData, viewer: Viewer) -> Response:
        def work(session: Session) -> list[dict[str, Any]]:
            return [{"id": member.id, "name": member.name, "role": member.role, "telegram": bool(member.telegram_hash),
                     "password": bool(member.password_hash), "since": member.created_at} for member in active_staff(session)]  # fmt: skip

        return self._render("team.html", viewer, team=await self._db(work), min_password=auth.MIN_PASSWORD_LENGTH)

    async def team_add(self, _request: Request, form: FormData, viewer: Viewer) -> Response:
        name, role = (form.get("name") or "").strip(), form.get("role") or "staff"
        password, signoff = form.get("password") or "", (form.get("signoff") or "").strip() or None
        if not 1 <= len(name) <= 80 or role not in ("staff", "lead") or (signoff and len(signoff) > 40):
            raise Refusal(400, "Uppgifterna räcker inte",
                          "Skriv ett namn (högst 80 tecken) och välj roll. Gå tillbaka och försök igen.")  # fmt: skip
        try:
            password_hash = await asyncio.to_thread(auth.hash_password, password)
        except auth.PasswordTooShort:
            raise Refusal(400, "Lösenordet är för kort",
                          f"Lösenordet måste ha minst {auth.MIN_PASSWORD_LENGTH} tecken. Gå tillbaka och välj ett längre.") from None
        now = self.clock.now()

        def work(session: Session) -> None:
            if any(member.name.casefold() == name.casefold() for member in active_staff(session)):
                raise Refusal(409, "Namnet finns redan",
                              f"Det finns redan någon som heter {name}. Lägg till ett efternamn eller en initial.")  # fmt: skip
            member = add_staff(session, name=name, role=role, now=now, signoff=signoff)
            member.password_hash = password_hash
            audit(session, actor=_actor(viewer), action=AuditAction.STAFF_ADDED, now=now, detail=f"staff:{member.id} role {member.role}")
            auth.flash(session, viewer, f"{member.name} är tillagd och kan logga in.")

        await self._db(work)
        return RedirectResponse("/staff/team", status_code=303)

    async def team_remove(self, request: Request, _form: FormData, viewer: Viewer) -> Response:
        staff_id, now = request.path_params["staff_id"], self.clock.now()
        if staff_id == viewer.staff_id:
            raise Refusal(400, "Du kan inte ta bort dig själv", "Be en annan ansvarig ta bort dig, så att någon alltid kan sköta teamet.")

        def work(session: Session) -> None:
            member = session.get(Staff, staff_id) if 0 < staff_id < 2**63 else None  # a made-up id: nobody, not an overflow
            if member is None or member.removed_at is not None:
                raise Refusal(404, "Personen finns inte", "Den personen finns inte i teamet längre. Gå tillbaka till teamet.")
            member.removed_at = now
            ended = auth.end_sessions_of(session, member.id)
            detail = f"staff:{member.id} sessions ended {ended}"
            audit(session, actor=_actor(viewer), action=AuditAction.STAFF_REMOVED, now=now, detail=detail)
            auth.flash(session, viewer, f"{member.name} är borttagen och utloggad.")

        await self._db(work)
        return RedirectResponse("/staff/team", status_code=303)


# --- helpers ------------------------------------------------------------------------------------------------


def _actor(viewer: Viewer) -> str:
    return f"staff:{viewer.staff_id}:{viewer.name}"


def _code(request: Request) -> str:
    code = str(request.path_params["code"]).upper()
    if not CODE.match(code):
        raise Refusal(404, "Ärendet finns inte", "Det finns inget ärende med den koden. Gå till kön och välj ärendet där.")
    return code


def _find_case(session: Session, code: str) -> Case:
    case = session.scalar(select(Case).where(Case.code == code))
    if case is None:
        raise Refusal(404, "Ärendet finns inte", f"Det finns inget ärende {code}. Det kan ha raderats. Gå till kön och välj ett annat.")
    return case


async def _read_form(request: Request) -> FormData:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return FormData()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormTooLarge()
    return FormData(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=100))


def _same_origin(request: Request, expected: str | None = None) -> bool:
    """A first line against cross-site posts; SameSite=Strict and the CSRF token are the others. `expected` is the
    public URL's origin, when set: behind a proxy the Host header names the upstream, not the site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # modern browsers say where a request comes from
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin in (None, "null"):  # Referrer-Policy: no-referrer makes a form post's Origin "null"
        return True
    if expected is not None:
        return origin_of(origin) == expected
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def _minutes(value: float | None) -> str:
    return "–" if value is None else humanise(timedelta(minutes=value))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)} %"


def _alarm(case: Case, transcript: list[dict[str, Any]]) -> dict[str, Any] | None:
    """On an urgent or "kolla" case, the person's latest message that triage flagged: shown first, not far down the page."""
    if not case.urgent and case.check_asked_at is None:
        return None
    return next((line for line in reversed(transcript) if line["mine"] and assess(line["text"]).level != NORMAL), None)


def _duration(seconds: int) -> str:
    """A wait as a person says it: "1 sekund", "40 sekunder", "3 minuter"."""
    if seconds < 90:
        return "1 sekund" if seconds == 1 else f"{seconds} sekunder"
    return f"{math.ceil(seconds / 60)} minuter"
