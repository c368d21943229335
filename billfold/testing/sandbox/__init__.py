"""The sandbox: every channel's far end played in process, for tests, the demo and
``billfold serve --sandbox``."""
