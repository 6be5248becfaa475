"""What every family and every backend share: the contract between them.

- :mod:`.backend`: the Backend contract and the one registry of backends (``hil.backend``);
- :mod:`.experiment`: the registry of experiments and their runner (``hil.experiment``);
- :mod:`.result`: metrics, verdicts, results and their run context;
- :mod:`.errors`: every exception the rig raises (``hil.errors``);
- :mod:`.validation`: range and shape checks for the families' types;
- :mod:`.wire`: the named-array form of the families' types, what crosses the wire;
- :mod:`.statistics`: the limits experiments judge against.
"""
