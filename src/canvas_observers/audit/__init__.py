"""``canvas-observers audit``: who observes whom, set beside what the SIS says (read-only).

``findings`` is pure (roster + provisioning snapshot + the journal's links and accounts ->
``Audit``); ``render`` prints it and writes it as JSON or CSV. The package sits above ``sync``
(it reads Canvas the way a run does) and ``report`` (it writes files the way a report does).
"""
