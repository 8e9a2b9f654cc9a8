"""The worker: consumes campaign job queues, dials, and holds each job until its call ends."""
