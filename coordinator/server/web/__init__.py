"""The browser page at ``/``: a speech playground, voice chat and the server's status.

Plain HTML, CSS and ES modules in ``static/``, served by the app itself: no build step, no second
server, nothing fetched from the internet at run time (the server may run offline).
"""
