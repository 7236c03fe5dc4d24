"""Saving a validated model instance that a concurrent write may clash with."""

from django.db import IntegrityError, transaction


def save_validated(instance, **save_kwargs):
    """Save `instance` after `full_clean()`, reporting a clash as a ValidationError.

    `full_clean()` checks unique fields and constraints against the rows it
    can see, so two requests that create the same name at the same moment
    both pass it, and the second insert breaks the unique index. The insert
    runs in a savepoint, so after the IntegrityError the transaction is
    usable again. `full_clean()` then runs once more: its queries now read
    the other row, and it raises the same ValidationError that a sequential
    request gets. (Some models check their names in `clean()`, for a message
    on the field, so the whole of `full_clean()` runs.) An IntegrityError
    that validation does not explain goes up unchanged.
    """
    try:
        with transaction.atomic():
            instance.save(**save_kwargs)
    except IntegrityError:
        instance.full_clean()
        raise
