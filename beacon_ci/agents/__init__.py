"""The agents: one module per agent (claude, codex, gemini, copilot) with the settings that switch
its telemetry on and the mapping of its records (and spans) to Beacon events. fields.py holds the readers and
setters every mapper shares, normalizer.py picks a mapper per record, setup.py builds the child's
environment. Nothing here protects or writes: capture.py combines these with beacon_protect."""
