from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models.expressions import RawSQL
from rest_framework.pagination import PageNumberPagination as BasePagination

# The annotation that carries the number of matching rows on each row.
TOTAL_ANNOTATION = "_pagination_total"
# Standard SQL that PostgreSQL and SQLite (3.25 and later) run alike. As
# raw SQL it costs less to compile than Window(Count("pk")), which Django
# resolves for each query.
WINDOW_COUNT = RawSQL("COUNT(*) OVER ()", ())
# The largest OFFSET and LIMIT that PostgreSQL and SQLite take: a signed
# 64-bit integer. No page beyond it can hold a row.
MAX_ROW_NUMBER = 2**63 - 1


class CountingPaginator(Paginator):
    """A paginator that reads a page and the total count in one query.

    Django's Paginator runs `SELECT COUNT(*)` before it reads the page.
    Here the page's query carries `COUNT(*) OVER ()`, which the database
    computes over every matching row before the LIMIT, so a page costs one
    query. A page past the end needs no count: it is empty, and an empty
    page other than the first is an error.

    The window reads every matching row, where a separate count could read
    only an index. A second query costs more to compile in Django than to
    run, so the window stays cheaper on small lists. At 1,000 matching rows
    the two cost about the same (measured on a 2-core machine).

    Querysets whose window count would differ from their row count
    (DISTINCT, GROUP BY, set operations), values() querysets and plain
    lists go through Django's two queries.
    """

    def page(self, number):
        if not self._counts_in_page_query():
            return super().page(number)
        number = self._validate_number_without_count(number)
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page > MAX_ROW_NUMBER:
            raise EmptyPage(self.error_messages["no_results"])
        counted = self.object_list.annotate(**{TOTAL_ANNOTATION: WINDOW_COUNT})
        rows = list(counted[bottom : bottom + self.per_page])
        if rows:
            self.__dict__["count"] = getattr(rows[0], TOTAL_ANNOTATION)
        elif number == 1:
            self.__dict__["count"] = 0
        else:
            raise EmptyPage(self.error_messages["no_results"])
        return self._get_page(rows, number, self)

    def _validate_number_without_count(self, number):
        """Django's checks of a page number, minus the one against the count."""
        if "count" in self.__dict__:
            return self.validate_number(number)
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def _counts_in_page_query(self):
        if self.orphans:
            # Orphans move page boundaries by the count: Django's page() handles them.
            return False
        query = getattr(self.object_list, "query", None)
        if query is None or not hasattr(self.object_list, "annotate"):
            return False
        if not connections[self.object_list.db].features.supports_over_clause:
            return False
        if getattr(self.object_list, "_fields", None) is not None:
            # values() and values_list() querysets: rows are not objects.
            return False
        return not (query.distinct or query.group_by or query.combinator)


class PageNumberPagination(BasePagination):
    """Pages of PAGE_SIZE rows. The `page_size` parameter requests up to 200."""

    django_paginator_class = CountingPaginator
    page_size_query_param = "page_size"
    max_page_size = 200
