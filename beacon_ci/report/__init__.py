"""Reports: pure functions from events and a validation document to text. summary.py folds the
events; text.py renders the CI-log table, markdown.py the GitHub job summary."""

from __future__ import annotations

from beacon_ci.report.markdown import render_markdown
from beacon_ci.report.summary import summarize
from beacon_ci.report.text import render_text

__all__ = ["render_markdown", "render_text", "summarize"]
