"""Built-in objectives: what an attacker wants and how a prediction is scored."""
