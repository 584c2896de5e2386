"""mmeval-defenses: adversarial fine-tuning and the Multi-Shield detector."""

__version__ = "0.1.0"
