"""Configuration, one concern per module: the model catalog (catalog: models.yaml's typed models),
the runtime settings (settings: the environment), and the model selection (selection: which files
the settings pick from the catalog, and where they are)."""
