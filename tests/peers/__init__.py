"""Tests against peer tools outside the rig (rockpool), marked ``peers``: ``tox -e peers`` runs them with
the ``peers`` extra installed; elsewhere they skip, saying what is missing."""
