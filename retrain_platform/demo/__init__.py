"""The closed-loop demo of the embedded default: backfill, driver, loop, timeline, report."""
