"""``surveybot`` subcommands for officers' results and outreach (export, report, link, graph, cost).

Each command lives in its own module under ``bot/results/`` or ``adapters/``; this file only
registers them on the CLI app.
"""

from __future__ import annotations

import bot.results.commands  # noqa: F401  (export, report)
from bot.cli import app
from bot.results import (
    audit_command,  # noqa: F401  (audit)
    tools_commands,  # noqa: F401  (link, graph, cost)
)

__all__ = ["app"]
