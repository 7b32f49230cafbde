"""HTTP server: app factory, routes and the one place domain errors become HTTP errors."""
