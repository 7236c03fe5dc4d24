import re
from dataclasses import dataclass
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connections, router
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from gimlet.api.scoping import remember_tenant_roles
from gimlet.models import Membership

# DRF's authtoken keys: 20 random bytes, hex-encoded.
TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class UserQuery:
    """The query that reads a token's user and memberships, and how to read it."""

    sql: str
    # The user model's concrete fields, in the order the query selects them.
    attnames: list
    # (position, column, converters) for each user column whose database
    # value needs converting, as the ORM converts it.
    converters: list


@cache
def user_query(alias):
    """Build the query that reads a token's user and the user's memberships.

    Each row is the user's columns, then one membership's tenant id and
    role, or two NULLs when the user has none. Built from the models'
    tables once per database.
    """
    user_model = get_user_model()
    user, token, membership = user_model._meta, Token._meta, Membership._meta
    connection = connections[alias]
    q = connection.ops.quote_name

    def column(table, model, name):
        return f"{table}.{q(model.get_field(name).column)}"

    fields = user.concrete_fields
    user_columns = ", ".join(f"u.{q(field.column)}" for field in fields)
    user_id = column("u", user, user.pk.name)
    converters = []
    for position, field in enumerate(fields):
        col = field.get_col(user.db_table)
        functions = connection.ops.get_db_converters(col) + col.get_db_converters(
            connection
        )
        if functions:
            converters.append((position, col, functions))
    # Table and column names come from the models, and the key is a parameter.
    select = f"SELECT {user_columns}, {column('m', membership, 'tenant')}"  # noqa: S608
    sql = (
        f"{select}, {column('m', membership, 'role')} "
        f"FROM {q(token.db_table)} t "
        f"JOIN {q(user.db_table)} u ON {user_id} = {column('t', token, 'user')} "
        f"LEFT JOIN {q(membership.db_table)} m "
        f"ON {column('m', membership, 'user')} = {user_id} "
        f"WHERE {column('t', token, 'key')} = %s"
    )
    return UserQuery(sql, [field.attname for field in fields], converters)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, reading the user's roles in the same query.

    Every API request needs both the user and the user's tenant roles. DRF
    reads the token and its user, and the roles would take a second query.
    Here one raw query reads the user joined with its memberships, and the
    user is built from its columns with the ORM's own converters. The ORM
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
        query = user_query(alias)
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(query.sql, [key])
            rows = cursor.fetchall()
        if not rows:
            raise exceptions.AuthenticationFailed("Invalid token.")
        values = list(rows[0][: len(query.attnames)])
        for position, col, functions in query.converters:
            for function in functions:
                values[position] = function(values[position], col, connection)
        user = get_user_model().from_db(alias, query.attnames, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        roles = {row[-2]: row[-1] for row in rows if row[-2] is not None}
        remember_tenant_roles(user, roles)
        token = Token.from_db(alias, ["key", "user_id"], [key, user.pk])
        token.user = user
        return user, token
