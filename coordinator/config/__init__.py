"""Configuration, one concern per module: the model catalog (catalog: models.yaml's typed models),
the runtime settings (settings: the environment), the model selection (selection: which files the
settings pick from the catalog, and where they are), and the settings' reference (reference: the
docs' tables, .env.example and the CLI's help, rendered from the settings' descriptions)."""
