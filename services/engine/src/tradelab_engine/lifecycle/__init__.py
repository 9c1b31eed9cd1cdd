"""The job lifecycle every job kind shares, written once.

queued → running (a claim: attempt + 1, a lease the worker renews) → progress (sequence
numbers) → exactly one terminal state (completed, failed with a reason, cancelled) whose event is
stored in the same transaction (the outbox). A sweeper re-queues the jobs of workers whose lease
expired (or fails them after ``max_attempts``) and publishes again the messages of jobs queued for
long, which a broker restarted empty has lost. A job message is a turn: the worker takes the next
claimable job in the fair order of :mod:`.fair` (users take turns whatever their backlogs). A job
kind plugs in with a :class:`JobKind`.
"""
