"""Background duties (outbox, expiry, requery, refunds, auto-debit, bureau pushes, nonces,
reconciliation of a watched folder, settlement drafts): what they do
(:mod:`.duties`), when (:mod:`.schedule`, :mod:`.config`), and the single-machine loop
(:mod:`.loop`). The scale-out runner on procrastinate is :mod:`billfold.adapters.jobs`;
nothing here imports procrastinate. See docs/jobs.md.
"""
