import re
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connections, router
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from gimlet.api.scoping import remember_tenant_roles
from gimlet.models import Membership

# DRF's authtoken keys: 20 random bytes, hex-encoded.
TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


@cache
def user_and_roles_sql(alias):
    """Return the query that reads a token's user and the user's memberships.

    Each row is the user, with one membership's tenant id and role, or
    NULLs when the user has none. Built from the models' tables once per
    database.
    """
    user, token, membership = get_user_model()._meta, Token._meta, Membership._meta
    q = connections[alias].ops.quote_name

    def column(table, model, name):
        return f"{table}.{q(model.get_field(name).column)}"

    user_id = column("u", user, user.pk.name)
    # Table and column names come from the models; the key is a parameter.
    select = f"SELECT u.*, {column('m', membership, 'tenant')} AS gimlet_tenant_id"  # noqa: S608
    return (
        f"{select}, {column('m', membership, 'role')} AS gimlet_role "
        f"FROM {q(token.db_table)} t "
        f"JOIN {q(user.db_table)} u ON {user_id} = {column('t', token, 'user')} "
        f"LEFT JOIN {q(membership.db_table)} m "
        f"ON {column('m', membership, 'user')} = {user_id} "
        f"WHERE {column('t', token, 'key')} = %s"
    )


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, reading the user's roles in the same query.

    Every API request needs both the user and the user's tenant roles. DRF
    reads the token and its user, and the roles would take a second query.
    Here one raw query reads the user joined with its memberships. The ORM
    would build the same join, but it would compile it again for each
    request, which costs more than running it.

    Only well-formed keys are looked up: PostgreSQL rejects a NUL character
    in a query parameter with DataError, so a header such as "Token \\x00"
    would otherwise be a server error.
    """

    def authenticate_credentials(self, key):
        if not TOKEN_KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        alias = router.db_for_read(Token)
        sql = user_and_roles_sql(alias)
        rows = list(get_user_model().objects.db_manager(alias).raw(sql, [key]))
        if not rows:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = rows[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        roles = {
            row.gimlet_tenant_id: row.gimlet_role
            for row in rows
            if row.gimlet_tenant_id is not None
        }
        remember_tenant_roles(user, roles)
        token = Token.from_db(alias, ["key", "user_id"], [key, user.pk])
        token.user = user
        return user, token
