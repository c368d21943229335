"""``billfold worker``'s machinery: the procrastinate wiring (:mod:`.queue`, needs the
``worker`` extra), the heartbeat (:mod:`.heartbeat`) and the worker's life and death
(:mod:`.lifecycle`). The duties themselves are :mod:`billfold.jobs`. See docs/jobs.md."""
