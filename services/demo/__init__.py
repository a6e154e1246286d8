"""The demo: a seeded, deterministic data set (employers, foreign workers) and what plays it."""
