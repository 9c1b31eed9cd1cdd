"""Cascades into the engine: a deleted dataset stops the jobs using it, a deleted user takes
every run, optimisation, Monte Carlo study, saved strategy and result file of theirs along."""
