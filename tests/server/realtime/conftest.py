from tests.server.conftest import client, runtime  # noqa: F401  (the server tests' app and runtime)
