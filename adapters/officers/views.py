"""The console's pages and endpoints (see :mod:`adapters.officers` for the list of routes).

Thin, like a channel adapter: each handler reads the request, calls the stores, the checks
(:mod:`adapters.officers.drafts`), the live numbers (:mod:`adapters.officers.live`) or the
officers' existing tools (export, report, cost, graph), and renders a template.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from adapters.officers import drafts, pages, preview
from adapters.officers.accounts import AccountError
from adapters.officers.auth import PREFIX, Console, Signed, form_of
from adapters.web.chat import BadRequest, parse_message, render_page
from bot.errors import Problem, SurveybotError
from bot.schema import Flow
from bot.text import tr
from store.officers import ROLES
from store.published import PublishConflict

log = logging.getLogger(__name__)

_VERSION = re.compile(r"[0-9a-f]{6,64}\Z")
DONE = {
    "published": "Published. Every process serves the new version within a few seconds.",
    "rolled-back": "Rolled back. Every process serves that version within a few seconds.",
    "added": "Officer added.",
    "removed": "Officer removed; their sessions have ended.",
    "role": "Role changed.",
    "unlocked": "Sign-in unlocked.",
    "password": "Password changed; their sessions have ended.",
}


def _base(
    console: Console, signed: Signed, request: Request, title: str, **more: Any
) -> dict[str, Any]:
    return {
        "title": title,
        "signed": signed,
        "officer": signed.officer,
        "csrf": signed.csrf,
        "done": DONE.get(request.query_params.get("done", "")),
        "may_edit": signed.officer.may("editor"),
        "is_admin": signed.officer.may("admin"),
        **more,
    }


def _not_found(console: Console, signed: Signed, request: Request, what: str) -> Response:
    return pages.page("error.html", _base(console, signed, request, "Not found", message=what), 404)


def _flow(console: Console, flow_id: str) -> Flow | None:
    return console.services.registry.get(flow_id)


def _state(flow: Flow, now: datetime) -> dict[str, Any]:
    """Open or closed, and when, in words."""
    opens, closes = flow.opens_at(), flow.closes_at()
    if flow.is_open(now):
        word = "Open"
        when = f"until {pages.day(closes)}" if closes else "with no closing date"
    elif opens is not None and now < opens:
        word = "Not open yet"
        when = f"opens {pages.day(opens)}"
    else:
        word = "Closed"
        when = f"closed {pages.day(closes)}" if closes else ""
    return {"word": word, "when": when, "opens": opens, "closes": closes}


_CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram", "web": "Web chat"}


def _channels(console: Console) -> list[dict[str, str]]:
    """Every channel this process knows of (as ``/healthz`` shows them), and its state."""
    snap = console.services.health.snapshot()
    out = []
    for name in [*_CHANNEL_NAMES, *sorted(set(snap) - set(_CHANNEL_NAMES))]:
        label = _CHANNEL_NAMES.get(name, name.replace("_", " ").capitalize())
        state = snap.get(name)
        if state is None:
            out.append({"name": label, "status": "off", "reason": "not set up"})
            continue
        reason = str(state.get("reason") or "")
        out.append({"name": label, "status": str(state.get("status", "")), "reason": reason})
    return out


def _problems_json(problems: list[Problem]) -> list[dict[str, object]]:
    return [
        {
            "line": p.line,
            "column": p.column,
            "severity": p.severity,
            "message": p.message,
            "hint": p.hint,
            "question": p.question,
            "code": p.code,
        }
        for p in problems
    ]


def _marks(problems: list[Problem]) -> dict[int, str]:
    """Line -> 'error' or 'warning' (the worst on that line), for the editor's gutter."""
    out: dict[int, str] = {}
    for p in problems:
        if p.line is None:
            continue
        if out.get(p.line) != "error":
            out[p.line] = p.severity
    return out


# -- flows and their live results ----------------------------------------------------------------


def flows_index(console: Console) -> Any:
    async def index(request: Request, signed: Signed) -> Response:
        now = console.services.clock()
        registry = console.services.registry
        rows = []
        for flow in sorted(registry.flows.values(), key=lambda f: tr(f.title, f.languages[0])):
            snap = await console.live.get(flow)
            rows.append(
                {
                    "flow": flow,
                    "title": tr(flow.title, flow.languages[0]),
                    "state": _state(flow, now),
                    "published": flow.id in registry.published,
                    "snap": snap,
                }
            )
        errors = {f: ps for f, ps in registry.errors.items()}
        return pages.page(
            "flows.html", _base(console, signed, request, "Flows", rows=rows, errors=errors)
        )

    return index


def flow_page(console: Console) -> Any:
    async def show(request: Request, signed: Signed) -> Response:
        flow = _flow(console, request.path_params["flow_id"])
        if flow is None:
            return _not_found(console, signed, request, "There is no flow with that id.")
        snap = await console.live.get(flow)
        history = await console.published.history(flow.id)
        latest = next((v for v in reversed(history) if v.version == flow.version), None)
        return pages.page(
            "flow.html",
            _base(
                console, signed, request, tr(flow.title, flow.languages[0]),
                flow=flow, snap=snap, state=_state(flow, console.services.clock()),
                channels=_channels(console), latest=latest,
                published=flow.id in console.services.registry.published,
                file=console.services.registry.file_of(flow.id),
                responses_html=pages.trusted(snap.responses_html),
                funnel_html=pages.trusted(snap.funnel_html),
                tab="results",
            ),
        )  # fmt: skip

    return show


def live_fragment(console: Console) -> Any:
    """The live section alone, for the page's script (polled every few seconds). 304 when
    nothing changed since the stamp the page has."""

    async def fragment(request: Request, signed: Signed) -> Response:
        flow = _flow(console, request.path_params["flow_id"])
        if flow is None:
            return Response(status_code=404, headers=pages.headers())
        snap = await console.live.get(flow)
        etag = f'"{snap.stamp}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=pages.headers(ETag=etag))
        return pages.page(
            "live.html",
            _base(
                console, signed, request, "", flow=flow, snap=snap,
                responses_html=pages.trusted(snap.responses_html),
                funnel_html=pages.trusted(snap.funnel_html),
            ),
            headers={"ETag": etag},
        )  # fmt: skip

    return fragment


# -- the editor ----------------------------------------------------------------------------------


def edit_page(console: Console) -> Any:
    async def edit(request: Request, signed: Signed) -> Response:
        flow_id = request.path_params["flow_id"]
        flow = _flow(console, flow_id)
        if flow is None:
            return _not_found(console, signed, request, "There is no flow with that id.")
        current = await drafts.live(console.services, console.published, flow_id)
        if current is None:
            return _not_found(console, signed, request, "The text of this flow cannot be read.")
        text, base = current.text, current.version
        if request.method == "POST":
            form = await form_of(request)
            text = drafts.normalise(form.get("text", ""))
            base = form.get("base", "") if _VERSION.match(form.get("base", "")) else current.version
            action = form.get("action", "check")
            if action in ("preview", "cost", "graph", "publish"):
                draft = await drafts.save_draft(
                    console.officers, flow_id, text, by=signed.officer.name,
                    at=console.services.clock(), base=base,
                )  # fmt: skip
                target = f"{PREFIX}/flows/{flow_id}/drafts/{draft.id}/{'chat' if action == 'preview' else action}"
                return RedirectResponse(target, 303, headers=pages.headers())
        else:
            wanted = request.query_params.get("draft")
            if wanted:
                saved = await drafts.load_draft(console.officers, flow_id, wanted)
                if saved is not None:
                    text, base = saved.text, saved.base
        checked = await drafts.check(console.services, flow_id, text, console.checking)
        return pages.page(
            "edit.html",
            _base(
                console, signed, request, f"Edit {flow_id}",
                flow=flow, text=text, lines=max(1, text.count("\n") + (0 if text.endswith("\n") else 1)),
                base=base, checked=checked, marks=_marks(checked.problems),
                live_version=current.version, tab="edit",
                stale=base != current.version,
            ),
        )  # fmt: skip

    return edit


def check_api(console: Console) -> Any:
    """``POST {"text": ...}`` -> every problem with its line, as the officer types."""

    async def check(request: Request, signed: Signed) -> Response:
        flow_id = request.path_params["flow_id"]
        if _flow(console, flow_id) is None:
            return JSONResponse({"error": "no such flow"}, 404, headers=pages.headers())
        try:
            data = orjson.loads(await request.body())
            text = drafts.normalise(str(data["text"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"text": ...}'}, 400, headers=pages.headers())
        checked = await drafts.check(console.services, flow_id, text, console.checking)
        return JSONResponse(
            {
                "errors": len(checked.errors),
                "warnings": len(checked.warnings),
                "version": checked.version,
                "problems": _problems_json(checked.problems),
            },
            headers=pages.headers(),
        )

    return check


def draft_api(console: Console) -> Any:
    """``POST {"text", "base"}`` -> a saved draft and where to preview it (the editor's script)."""

    async def save(request: Request, signed: Signed) -> Response:
        flow_id = request.path_params["flow_id"]
        if _flow(console, flow_id) is None:
            return JSONResponse({"error": "no such flow"}, 404, headers=pages.headers())
        try:
            data = orjson.loads(await request.body())
            text = drafts.normalise(str(data["text"]))
            base = str(data.get("base", ""))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"text": ...}'}, 400, headers=pages.headers())
        draft = await drafts.save_draft(
            console.officers, flow_id, text, by=signed.officer.name,
            at=console.services.clock(), base=base if _VERSION.match(base) else "",
        )  # fmt: skip
        root = f"{PREFIX}/flows/{flow_id}/drafts/{draft.id}"
        return JSONResponse(
            {
                "draft": draft.id,
                "chat": f"{root}/chat",
                "cost": f"{root}/cost",
                "graph": f"{root}/graph",
            },
            headers=pages.headers(),
        )

    return save


async def _draft(console: Console, request: Request) -> tuple[drafts.Draft, drafts.Checked] | None:
    flow_id = request.path_params["flow_id"]
    if _flow(console, flow_id) is None:
        return None
    draft = await drafts.load_draft(console.officers, flow_id, request.path_params["draft"])
    if draft is None:
        return None
    return draft, await drafts.check(console.services, flow_id, draft.text, console.checking)


def _draft_gone(console: Console, signed: Signed, request: Request) -> Response:
    return _not_found(
        console, signed, request,
        "That draft is gone (drafts are kept for a day) or belongs to another flow. Open the editor again.",
    )  # fmt: skip


def _has_errors(
    console: Console,
    signed: Signed,
    request: Request,
    draft: drafts.Draft,
    checked: drafts.Checked,
    what: str,
) -> Response:
    return pages.page(
        "draft_errors.html",
        _base(console, signed, request, "The draft has errors", draft=draft, checked=checked, what=what,
              flow_id=draft.flow),
        409,
    )  # fmt: skip


def draft_chat(console: Console) -> Any:
    async def chat(request: Request, signed: Signed) -> Response:
        found = await _draft(console, request)
        if found is None:
            return _draft_gone(console, signed, request)
        draft, checked = found
        if checked.flow is None:
            return _has_errors(console, signed, request, draft, checked, "previewed")
        endpoint = f"{PREFIX}/flows/{draft.flow}/drafts/{draft.id}/chat/messages?csrf={signed.csrf}"
        body = render_page(
            console.services, checked.flow, endpoint=endpoint,
            lang=request.query_params.get("lang"), source=request.query_params.get("source"),
        )  # fmt: skip
        return Response(body, media_type="text/html; charset=utf-8", headers=pages.headers())

    return chat


def draft_chat_messages(console: Console) -> Any:
    async def messages(request: Request, signed: Signed) -> Response:
        found = await _draft(console, request)
        if found is None or found[1].flow is None:
            return JSONResponse(
                {"error": "gone", "message": "This draft is gone: open the editor again."},
                404,
                headers=pages.headers(),
            )
        draft, checked = found
        assert checked.flow is not None
        try:
            msg = parse_message(request.headers.get("content-type", ""), await request.body())
        except BadRequest as exc:
            return JSONResponse(
                {"error": exc.code, "message": exc.message}, exc.status, headers=pages.headers()
            )
        key = f"{draft.id}:{signed.session.key[-16:]}"
        body = await preview.converse(
            console.officers, checked.flow, key, msg, console.services.clock()
        )
        return JSONResponse(body, headers=pages.headers())

    return messages


def draft_cost(console: Console) -> Any:
    async def cost(request: Request, signed: Signed) -> Response:
        from adapters.renderers import sms_messages, whatsapp_messages
        from bot.results import cost as costing

        found = await _draft(console, request)
        if found is None:
            return _draft_gone(console, signed, request)
        draft, checked = found
        if checked.flow is None:
            return _has_errors(console, signed, request, draft, checked, "costed")
        flow = checked.flow
        q = request.query_params
        try:
            respondents = max(0, min(10_000_000, int(q.get("n", "1000"))))
            price = max(0.0, min(100.0, float(q.get("price", "0.04"))))
        except ValueError:
            respondents, price = 1000, 0.04
        lang = q.get("lang") if q.get("lang") in flow.languages else flow.languages[0]
        try:
            est = costing.estimate(
                flow, render=sms_messages, respondents=respondents, price=price, lang=lang
            )
            wa = costing.whatsapp_estimate(
                est,
                messages=whatsapp_messages,
                template_price=0.02,
                service_price=0.0,
                message_fee=0.004,
            )
        except SurveybotError as exc:
            return _not_found(console, signed, request, str(exc))
        return pages.page(
            "draft_cost.html",
            _base(console, signed, request, f"Cost of the draft of {flow.id}", draft=draft, flow=flow,
                  est=est, wa=wa, respondents=respondents, price=price, lang=lang, tab="edit"),
        )  # fmt: skip

    return cost


def draft_graph(console: Console) -> Any:
    async def graph(request: Request, signed: Signed) -> Response:
        from bot.results import graph as diagram

        found = await _draft(console, request)
        if found is None:
            return _draft_gone(console, signed, request)
        draft, checked = found
        if checked.flow is None:
            return _has_errors(console, signed, request, draft, checked, "drawn")
        flow = checked.flow
        d = diagram.build(flow)
        names = {n.id: n for n in d.nodes}
        steps = [
            {"node": n, "out": [(e, names.get(e.dst)) for e in d.edges if e.src == n.id]}
            for n in d.nodes
        ]
        return pages.page(
            "draft_graph.html",
            _base(console, signed, request, f"Route of the draft of {flow.id}", draft=draft, flow=flow,
                  steps=steps, mermaid=diagram.mermaid(d), dot=diagram.dot(d), tab="edit"),
        )  # fmt: skip

    return graph


def draft_publish(console: Console) -> Any:
    async def publish(request: Request, signed: Signed) -> Response:
        found = await _draft(console, request)
        if found is None:
            return _draft_gone(console, signed, request)
        draft, checked = found
        current = await drafts.live(console.services, console.published, draft.flow)
        if current is None:
            return _not_found(console, signed, request, "The text of this flow cannot be read.")
        error: str | None = None
        status = 200
        if request.method == "POST":
            form = await form_of(request)
            if checked.errors:
                error = "This draft has errors, so it cannot be published: fix them first."
                status = 409
            else:
                try:
                    await _publish(
                        console, signed, draft.flow, draft.text, base=draft.base,
                        note=form.get("note", "").strip()[:500], kind="publish",
                    )  # fmt: skip
                except SurveybotError as exc:  # someone published first (or Redis is down)
                    error, status = str(exc), 409
                else:
                    return RedirectResponse(
                        f"{PREFIX}/flows/{draft.flow}/history?done=published",
                        303,
                        headers=pages.headers(),
                    )
        return pages.page(
            "draft_publish.html",
            _base(
                console, signed, request, f"Publish {draft.flow}", draft=draft, checked=checked,
                flow_id=draft.flow, current=current, error=error, tab="edit",
                stale=draft.base != current.version,
                diff=drafts.diff_lines(current.text, draft.text, f"live version {current.version}", "your draft"),
            ),
            status,
        )  # fmt: skip

    return publish


async def _publish(
    console: Console, signed: Signed, flow_id: str, text: str, *, base: str, note: str, kind: str
) -> str:
    """Check again, store the version for every process, serve it here at once, audit it."""
    svc = console.services
    checked = await drafts.check(svc, flow_id, text, console.checking)
    if checked.flow is None:  # (callers show the errors first; this is the server's own check)
        raise SurveybotError(f"the draft of {flow_id} has errors: it cannot be published")
    current = await drafts.live(svc, console.published, flow_id)
    if current is None:
        raise SurveybotError(f"the flow {flow_id} is not served")
    if current.published:
        expected = base
    else:
        if base and base != current.version:
            raise PublishConflict(flow_id, current.version)
        expected = ""
    now = svc.clock()
    await console.published.publish(
        flow_id, text, checked.version, by=signed.officer.name, at=now, note=note, kind=kind,
        expected=expected, base=None if current.published else (current.version, current.text),
    )  # fmt: skip
    svc.registry.use_published(checked.flow)  # the others follow within a second
    detail = {"file": "console", "previous": current.version, "how": kind, "note": note}
    try:
        recorded = await svc.store.audit.published(
            flow_id, checked.version, actor=signed.officer.name, at=now, **detail
        )
        if not recorded:  # a version published before (a rollback): record this time too
            await svc.store.audit.record(
                flow_id,
                "published",
                actor=signed.officer.name,
                at=now,
                version=checked.version,
                **detail,
            )
    except SurveybotError as exc:
        log.error("publish of %s %s not in the audit trail: %s", flow_id, checked.version, exc)
    log.info(
        "console: %s published %s version %s (%s)",
        signed.officer.name,
        flow_id,
        checked.version,
        kind,
    )
    return checked.version


# -- history, versions, rollback ---------------------------------------------------------------


def history_page(console: Console) -> Any:
    async def history(request: Request, signed: Signed) -> Response:
        flow = _flow(console, request.path_params["flow_id"])
        if flow is None:
            return _not_found(console, signed, request, "There is no flow with that id.")
        entries = list(reversed(await console.published.history(flow.id)))
        return pages.page(
            "history.html",
            _base(console, signed, request, f"History of {flow.id}", flow=flow, entries=entries,
                  live_version=flow.version, file=console.services.registry.file_of(flow.id), tab="history"),
        )  # fmt: skip

    return history


def version_page(console: Console) -> Any:
    async def version(request: Request, signed: Signed) -> Response:
        flow = _flow(console, request.path_params["flow_id"])
        wanted = request.path_params["version"]
        if flow is None or not _VERSION.match(wanted):
            return _not_found(console, signed, request, "There is no such flow or version.")
        text = await console.published.text(flow.id, wanted)
        current = await drafts.live(console.services, console.published, flow.id)
        if text is None and current is not None and current.version == wanted:
            text = current.text
        if text is None or current is None:
            return _not_found(console, signed, request, "That version is not kept.")
        return pages.page(
            "version.html",
            _base(
                console, signed, request, f"{flow.id} version {wanted}", flow=flow, version=wanted,
                text=text, lines=text.splitlines(), live_version=current.version, tab="history",
                diff=drafts.diff_lines(current.text, text, f"live version {current.version}", f"version {wanted}"),
            ),
        )  # fmt: skip

    return version


def rollback(console: Console) -> Any:
    async def back(request: Request, signed: Signed) -> Response:
        flow = _flow(console, request.path_params["flow_id"])
        form = await form_of(request)
        wanted = form.get("version", "")
        if flow is None or not _VERSION.match(wanted):
            return _not_found(console, signed, request, "There is no such flow or version.")
        text = await console.published.text(flow.id, wanted)
        if text is None:
            return _not_found(console, signed, request, "That version is not kept.")
        checked = await drafts.check(console.services, flow.id, text, console.checking)
        if checked.errors:
            return _has_errors(
                console,
                signed,
                request,
                drafts.Draft("-", flow.id, text, "", console.services.clock(), ""),
                checked,
                "rolled back to",
            )
        try:
            await _publish(
                console, signed, flow.id, text, base=form.get("base", ""),
                note=f"rollback to {wanted}", kind="rollback",
            )  # fmt: skip
        except SurveybotError as exc:  # someone published first (or Redis is down)
            return pages.page(
                "error.html",
                _base(console, signed, request, "Not rolled back", message=str(exc)),
                409,
            )
        return RedirectResponse(
            f"{PREFIX}/flows/{flow.id}/history?done=rolled-back", 303, headers=pages.headers()
        )

    return back


# -- downloads -----------------------------------------------------------------------------------


def download(console: Console) -> Any:
    async def get(request: Request, signed: Signed) -> Response:
        from bot.results.export import export_flow
        from bot.results.report import report_flow

        flow = _flow(console, request.path_params["flow_id"])
        if flow is None:
            return _not_found(console, signed, request, "There is no flow with that id.")
        form = await form_of(request)
        what = form.get("what", "")
        partial = form.get("partial") == "yes"
        now = console.services.clock()
        stamp = f"{now:%Y%m%d-%H%M}"
        svc = console.services
        if what in ("csv", "xlsx"):
            buffer: io.BytesIO | io.StringIO = (
                io.BytesIO() if what == "xlsx" else io.StringIO(newline="")
            )
            counts = await export_flow(svc.store, flow, buffer, what, partial=partial, now=now)
            data = buffer.getvalue()
            body = data if isinstance(data, bytes) else data.encode("utf-8")
            media = (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                if what == "xlsx"
                else "text/csv; charset=utf-8"
            )
            await svc.store.audit.record(
                flow.id, "exported", actor=signed.officer.name, at=now, format=what,
                rows=counts.written, partial=str(partial).lower(), since="", codes="false",
                via="console",
            )  # fmt: skip
            name = f"{flow.id}-{stamp}.{what}"
        elif what == "report":
            page_html = await report_flow(svc.store, flow, partial=partial, now=now)
            body = page_html.encode("utf-8")
            media = "text/html; charset=utf-8"
            await svc.store.audit.record(
                flow.id, "report", actor=signed.officer.name, at=now, by_question="",
                partial=str(partial).lower(), via="console",
            )  # fmt: skip
            name = f"{flow.id}-report-{stamp}.html"
        else:
            return _not_found(console, signed, request, "Choose CSV, XLSX or the report.")
        log.info("console: %s downloaded %s of %s", signed.officer.name, what, flow.id)
        return Response(
            body,
            media_type=media,
            headers=pages.headers(**{"Content-Disposition": f'attachment; filename="{name}"'}),
        )

    return get


# -- officers (admin) ----------------------------------------------------------------------------


def officers_page(console: Console) -> Any:
    async def officers(
        request: Request, signed: Signed, error: str | None = None, status: int = 200
    ) -> Response:
        everyone = await console.officers.all()
        return pages.page(
            "officers.html",
            _base(console, signed, request, "Officers", officers=everyone, roles=ROLES, error=error, tab="officers"),
            status,
        )  # fmt: skip

    return officers


def officers_change(console: Console) -> Any:
    show = officers_page(console)

    async def change(request: Request, signed: Signed) -> Response:
        form = await form_of(request)
        action = request.path_params["action"]
        name = form.get("name", "").strip().lower()
        now = console.services.clock()
        try:
            if action == "add":
                await console.accounts.add(
                    name,
                    form.get("role", ""),
                    form.get("password", ""),
                    by=signed.officer.name,
                    now=now,
                )
                done = "added"
            elif action == "remove":
                if name == signed.officer.name:
                    raise AccountError("you cannot remove yourself: ask another admin")
                if not await console.officers.remove(name):
                    raise AccountError(f"there is no officer called {name!r}")
                done = "removed"
            elif action == "role":
                if name == signed.officer.name:
                    raise AccountError("you cannot change your own role: ask another admin")
                await console.accounts.set_role(name, form.get("role", ""))
                done = "role"
            elif action == "unlock":
                await console.officers.unlock(name)
                done = "unlocked"
            elif action == "password":
                await console.accounts.set_password(name, form.get("password", ""))
                done = "password"
            else:
                return _not_found(console, signed, request, "No such action.")
        except AccountError as exc:
            shown: Response = await show(request, signed, str(exc), 400)
            return shown
        log.info("console: %s: %s %s", signed.officer.name, action, name)
        return RedirectResponse(f"{PREFIX}/officers?done={done}", 303, headers=pages.headers())

    return change
