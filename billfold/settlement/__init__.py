"""billfold."""
