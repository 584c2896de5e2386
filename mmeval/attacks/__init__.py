"""Built-in reference attacks (clean, PGD) and the base class every attack can build on."""

from .base import Attack, attack_mode, project, verify_output

__all__ = ["Attack", "attack_mode", "project", "verify_output"]
