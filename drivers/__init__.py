"""Talking to real things: the board protocol codec, the pyvisa board driver and
lab-instrument drivers. Knows nothing of chip families; depends on nothing else
in the project. (The board path arrives with the boards issue; see docs/ROADMAP.md.)
"""
