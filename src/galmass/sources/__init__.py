"""Sources: the Galaxy record, mock suites, suite storage and simulation snapshots."""
