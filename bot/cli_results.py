"""``surveybot`` subcommands for officers' results and outreach (export, report, misses, link,
graph, cost).

Each command lives in its own module under ``bot/results/`` or ``adapters/``; this file only
registers them on the CLI app.
"""

from __future__ import annotations

from bot.cli import app
from bot.results import (
    audit_command,  # noqa: F401  (audit)
    commands,  # noqa: F401  (export, report)
    misses_command,  # noqa: F401  (misses)
    tools_commands,  # noqa: F401  (link, graph, cost)
)

__all__ = ["app"]
