"""Google and Apple sign-in (OpenID Connect through Authlib): the routes.

Filled in by the social sign-in work of issue 8.
"""
