"""Reports: pure functions from events and a validation document to text. summary.py folds the
events; text.py renders the CI-log table, markdown.py the GitHub job summary (each imported
where it is used: a run without a job summary never loads the Markdown form)."""
