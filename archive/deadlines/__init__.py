"""Deadlines in Chinese working days (law art. 85), and (to come) the warnings they raise."""
