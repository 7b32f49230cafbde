"""Route modules: thin functions that validate, call the runtime and frame the response."""
