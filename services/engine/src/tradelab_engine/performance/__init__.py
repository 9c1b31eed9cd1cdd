"""Performance reports for administrators: the shared database and the job queues."""
