"""Talking to real things: the board protocol codec (:mod:`.protocol`, :mod:`.blocks`,
:mod:`.named_arrays`), the pyvisa board driver (:mod:`.board`), the board inventory and
lease pool (:mod:`.inventory`, :mod:`.pool`) and lab-instrument drivers
(:mod:`.instruments`). Knows nothing of chip families; depends on nothing else in the project.
"""
