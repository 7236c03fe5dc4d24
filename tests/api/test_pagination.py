"""Pages read their rows and the total count in one query."""

import pytest
from django.core.paginator import EmptyPage, PageNotAnInteger

from gimlet.api.pagination import CountingPaginator
from registries.models import Registry
from tests.api.conftest import client_for
from tests.factories import (
    MembershipFactory,
    RegistryFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REGISTRIES = "/api/v1/registries/"


@pytest.fixture
def seven(world_a):
    """World A's four credentials and three more: seven in all."""
    for index in range(3):
        RegistryFactory(environment=world_a.environment, name=f"extra-{index}")
    return client_for(world_a.member)


def names(response):
    return [row["name"] for row in response.json()["results"]]


def test_pages_split_the_list_and_carry_the_total(seven):
    pages = [seven.get(REGISTRIES, {"page_size": 3, "page": n}) for n in (1, 2, 3)]

    assert [page.json()["count"] for page in pages] == [7, 7, 7]
    assert [len(names(page)) for page in pages] == [3, 3, 1]
    assert len({name for page in pages for name in names(page)}) == 7


def test_next_and_previous_links(seven):
    middle = seven.get(REGISTRIES, {"page_size": 3, "page": 2}).json()
    last = seven.get(REGISTRIES, {"page_size": 3, "page": 3}).json()

    assert "page=3" in middle["next"]
    assert middle["previous"] is not None
    assert last["next"] is None


def test_last_page_by_name(seven):
    response = seven.get(REGISTRIES, {"page_size": 3, "page": "last"})

    assert len(names(response)) == 1


def test_page_past_the_end_is_not_found(seven):
    response = seven.get(REGISTRIES, {"page_size": 3, "page": 4})

    assert response.status_code == 404
    assert "Invalid page" in response.json()["detail"]


def test_empty_list_has_one_empty_page(db):
    user = UserFactory(username="newcomer")
    MembershipFactory(user=user, tenant=TenantFactory(slug="empty"))

    response = client_for(user).get(REGISTRIES)

    assert response.status_code == 200
    assert response.json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_count_follows_filters(seven):
    response = seven.get(REGISTRIES, {"kind": "ghcr", "page_size": 1})

    assert response.json()["count"] == Registry.objects.filter(kind="ghcr").count()


def test_page_beyond_any_offset_is_not_found(seven):
    response = seven.get(REGISTRIES, {"page": 2**62})

    assert response.status_code == 404


def test_rows_do_not_carry_the_count_annotation(seven):
    response = seven.get(REGISTRIES)

    assert all("_pagination_total" not in row for row in response.json()["results"])


@pytest.mark.parametrize("number,error", [("x", PageNotAnInteger), (0, EmptyPage)])
def test_paginator_rejects_bad_numbers(number, error, world_a):
    paginator = CountingPaginator(Registry.objects.order_by("pk"), 2)

    with pytest.raises(error):
        paginator.page(number)


def test_paginator_counts_values_querysets_apart(world_a, django_assert_num_queries):
    """values() rows are dicts, so the count takes Django's own query."""
    rows = Registry.objects.order_by("pk").values("name")
    paginator = CountingPaginator(rows, 2)

    with django_assert_num_queries(2):
        rows = list(paginator.page(1))

    assert (len(rows), paginator.count) == (2, 4)


def test_paginator_counts_in_the_page_query(world_a, django_assert_num_queries):
    paginator = CountingPaginator(Registry.objects.order_by("pk"), 3)

    with django_assert_num_queries(1):
        page = paginator.page(2)

    assert (len(page), paginator.count, page.has_next()) == (1, 4, False)
