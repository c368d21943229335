"""The command line: one module per command group; ``app`` wires them into ``billfold``."""
