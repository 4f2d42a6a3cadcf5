"""The officers' console: live results, editing and previewing a flow, publishing safely.

Routes (every one but sign-in needs a signed-in officer; the role needed is in brackets):

  GET|POST /console/login                     sign in (throttled per account and per address)
  POST     /console/logout                    sign out
  GET      /console                           the flows, open or closed, with headline numbers (viewer)
  GET      /console/flows/{id}                a flow's live results, misses, downloads (viewer)
  GET      /console/flows/{id}/live           the live section alone, polled by the page (viewer)
  GET      /console/flows/{id}/edit           the flow file with line numbers (viewer: read only)
  POST     /console/flows/{id}/edit           check a draft, or save it to preview/cost/graph/publish (editor)
  POST     /console/flows/{id}/check          a draft's problems, as the officer types (editor, JSON)
  POST     /console/flows/{id}/drafts         save a draft for the preview panel (editor, JSON)
  GET      /console/flows/{id}/drafts/{d}/chat    the draft in the web chat, nothing stored (editor)
  GET      /console/flows/{id}/drafts/{d}/cost    ``surveybot cost`` of the draft (editor)
  GET      /console/flows/{id}/drafts/{d}/graph   ``surveybot graph`` of the draft (editor)
  GET|POST /console/flows/{id}/drafts/{d}/publish the diff against the live version; publish (editor)
  GET      /console/flows/{id}/history        who published what and when (viewer)
  GET      /console/flows/{id}/versions/{v}   one version, and its diff against the live one (viewer)
  POST     /console/flows/{id}/rollback       publish an earlier version again (editor)
  POST     /console/flows/{id}/download       CSV, XLSX or the HTML report, audited (viewer)
  GET      /console/officers                  accounts (admin), and POST /console/officers/{action}

The pieces: :mod:`.auth` (sessions, CSRF, roles), :mod:`.accounts` (argon2 hashes, sign-in),
:mod:`.views` (the pages), :mod:`.drafts` (checks, diff), :mod:`.preview`, :mod:`.live`
(numbers), :mod:`.sync` (published versions into every process), :mod:`.pages` (Jinja2).
"""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from starlette.routing import BaseRoute, Route

from adapters.officers import pages, views
from adapters.officers.accounts import Accounts
from adapters.officers.auth import PREFIX, Console, guarded, login_page, logout
from adapters.officers.live import LiveStats
from adapters.officers.sync import PublishedSync
from adapters.services import Services
from store.officers import OfficerStore
from store.published import PublishedFlows

__all__ = ["PREFIX", "Console", "PublishedSync", "make_console", "routes"]


def make_console(services: Services) -> Console:
    s = services.settings
    officers = OfficerStore(
        services.redis,
        services.store.keys,
        idle=timedelta(minutes=s.console_idle_minutes),
        lifetime=timedelta(hours=s.console_session_hours),
    )
    hasher = services.extras.get("password_hasher")
    return Console(
        services=services,
        officers=officers,
        accounts=Accounts(officers, hasher if isinstance(hasher, PasswordHasher) else None),
        published=PublishedFlows(services.redis, services.store.keys),
        live=LiveStats(services),
    )


def routes(services: Services, console: Console | None = None) -> list[BaseRoute]:
    c = console or make_console(services)
    flow = PREFIX + "/flows/{flow_id}"
    draft = flow + "/drafts/{draft}"
    return [
        Route(PREFIX + "/static/{name}", pages.static, methods=["GET"]),
        Route(PREFIX + "/login", login_page(c), methods=["GET", "POST"]),
        Route(PREFIX + "/logout", guarded(c, "viewer", logout(c)), methods=["POST"]),
        Route(PREFIX, guarded(c, "viewer", views.flows_index(c)), methods=["GET"]),
        Route(PREFIX + "/", guarded(c, "viewer", views.flows_index(c)), methods=["GET"]),
        Route(flow, guarded(c, "viewer", views.flow_page(c)), methods=["GET"]),
        Route(flow + "/live", guarded(c, "viewer", views.live_fragment(c)), methods=["GET"]),
        Route(flow + "/edit", guarded(c, "viewer", views.edit_page(c)), methods=["GET"]),
        Route(flow + "/edit", guarded(c, "editor", views.edit_page(c)), methods=["POST"]),
        Route(flow + "/check", guarded(c, "editor", views.check_api(c)), methods=["POST"]),
        Route(flow + "/drafts", guarded(c, "editor", views.draft_api(c)), methods=["POST"]),
        Route(draft + "/chat", guarded(c, "editor", views.draft_chat(c)), methods=["GET"]),
        Route(
            draft + "/chat/messages",
            guarded(c, "editor", views.draft_chat_messages(c), token_in_query=True),
            methods=["POST"],
        ),
        Route(draft + "/cost", guarded(c, "editor", views.draft_cost(c)), methods=["GET"]),
        Route(draft + "/graph", guarded(c, "editor", views.draft_graph(c)), methods=["GET"]),
        Route(
            draft + "/publish",
            guarded(c, "editor", views.draft_publish(c)),
            methods=["GET", "POST"],
        ),
        Route(flow + "/history", guarded(c, "viewer", views.history_page(c)), methods=["GET"]),
        Route(
            flow + "/versions/{version}",
            guarded(c, "viewer", views.version_page(c)),
            methods=["GET"],
        ),
        Route(flow + "/rollback", guarded(c, "editor", views.rollback(c)), methods=["POST"]),
        Route(flow + "/download", guarded(c, "viewer", views.download(c)), methods=["POST"]),
        Route(PREFIX + "/officers", guarded(c, "admin", views.officers_page(c)), methods=["GET"]),
        Route(
            PREFIX + "/officers/{action}",
            guarded(c, "admin", views.officers_change(c)),
            methods=["POST"],
        ),
    ]
