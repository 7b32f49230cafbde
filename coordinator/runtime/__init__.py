"""What the process loads: model files fetched (``download``), planned into memory
(``memory_plan``), loaded and warmed (``loading``)."""
