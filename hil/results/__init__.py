"""Results: the store every run is kept in, and the reports made from it.

- :mod:`.store`: SQLite index + array files, written atomically (:mod:`.atomic`);
- :mod:`.report`: HTML and JSON reports, with :mod:`.plots` and ``templates/``;
- :mod:`.jsonable`: what may go into a JSON file, checked.
"""
