import re

from rest_framework import authentication, exceptions

# DRF's authtoken keys: 20 random bytes, hex-encoded.
TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication that looks up well-formed keys only.

    PostgreSQL rejects a NUL character in a query parameter with DataError,
    so a header such as "Token \\x00" would otherwise be a server error.
    """

    def authenticate_credentials(self, key):
        if not TOKEN_KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
