"""Armory: the system of record and safety interlock for prop firearms and ammunition."""
