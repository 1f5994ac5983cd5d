"""Findings: what a reviewer must look at, concluded from a capture's events (EVENTS.md
"Findings"). rules.py is the table of rules (stable ids, titles, severities, help); shell.py
reads a command as the shell would run it; commands.py, paths.py and hosts.py are the tables
that match commands, file paths and network hosts; fold.py folds events into findings in
bounded memory, as report/summary.py folds the summary; config.py reads what the user says
(rules off, hosts allowed, budgets) and judge.py applies it; render.py and sarif.py give the
text, Markdown and SARIF forms. Pure: events in, findings out (each module imported where it
is used)."""
