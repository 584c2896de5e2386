"""Fine-tuning defenses: the TrainSpec (``spec``), the engine behind ``mmeval train``
(``engine``), the base every weight defense builds on (``defense``) and what it declares
(``declared``, importable without torch)."""
