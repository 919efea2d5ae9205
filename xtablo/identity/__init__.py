"""Signing in with Google and Apple: the providers (providers.py) and what their answers do to
accounts (rules.py). The routes are in xtablo/blueprints/auth/oauth.py."""

from xtablo.identity.providers import PROVIDERS, Profile, Provider, enabled_providers, init_app

__all__ = ["PROVIDERS", "Profile", "Provider", "enabled_providers", "init_app"]
