"""Reports: pure functions from events and a validation document to text. summary.py folds the
events; text.py renders the CI-log table, markdown.py the GitHub job summary, html.py the page a
reviewer opens (each imported where it is used: a run without a job summary never loads the
Markdown form, one without --html never the page)."""
