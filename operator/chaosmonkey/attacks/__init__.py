"""Attacks: the plugin base class and the built-in attacks."""

from chaosmonkey.attacks.attack import Attack, AttackContext, AttackError

__all__ = ["Attack", "AttackContext", "AttackError"]
