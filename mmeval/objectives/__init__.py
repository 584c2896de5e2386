"""Built-in objectives: what an attacker wants and how a prediction is scored (what each
declares, readable without torch, is in ``declared``)."""
