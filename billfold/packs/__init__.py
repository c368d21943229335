"""Scenario packs: campus tuition, utilities, government fees and presale escrow — use cases
over the engine's ports for one kind of biller each."""
