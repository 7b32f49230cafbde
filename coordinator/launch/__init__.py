"""Composition, above every door: the HTTP app and the Wyoming listeners over one runtime, in one
lifespan (``app.create_app``), and the ``serve`` command that runs them (``serve.serve``).

Neither door imports the other; this package is the only place that knows both.
"""
