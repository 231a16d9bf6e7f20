"""The configuration: its schema, reading the file, secrets, pupil watch lists, who a role names.

Composes the settings models of the rooms below it (classify) and of the channels (alerts);
imports no room that reads or writes the database.
"""
