"""Watching a running lab: its status and the facts read from it, logs and
traces, the cost of what it did, the dashboard."""
