"""Performance scenarios with a documented command (see README.md): ``make bench``."""
