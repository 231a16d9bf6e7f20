"""The school's working days and times in London: pure date arithmetic, no I/O but ICS files.

Imports nothing from the rest of the core, so that the config can check closures with it.
"""
