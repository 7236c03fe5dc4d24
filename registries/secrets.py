"""Derived forms of a secret that are safe to store and show."""

import hashlib
import hmac

from django.conf import settings

# Known token prefixes, longest first, shown in full in a hint because they
# name the token's type and carry no entropy.
KNOWN_PREFIXES = ("github_pat_", "dckr_pat_", "dckr_oat_", "ghp_")
# Shorter secrets show no characters at all: four characters of an
# eight-character password would give away half of it.
MIN_LENGTH_FOR_SUFFIX = 16


def secret_fingerprint(secret):
    """Return a keyed SHA-256 HMAC of the secret, hex encoded.

    The key derives from DJANGO_SECRET_KEY, so a stolen database alone does
    not let anyone test guesses against fingerprints.
    """
    key = hashlib.sha256(
        b"gimlet.registries.fingerprint:" + settings.SECRET_KEY.encode()
    ).digest()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def secret_hint(secret):
    """Return the secret's known prefix and its last four characters."""
    prefix = next((p for p in KNOWN_PREFIXES if secret.startswith(p)), "")
    if len(secret) < MIN_LENGTH_FOR_SUFFIX:
        return f"{prefix}…"
    return f"{prefix}…{secret[-4:]}"
