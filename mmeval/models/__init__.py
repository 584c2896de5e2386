"""Model adapters (open_clip, transformers; what they declare is in ``declared``) and models
from your own code (``in_memory``)."""
