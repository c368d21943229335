"""``billfold demo``: the end-to-end demo (not part of the engine; needs ``billfold[all]``)."""
