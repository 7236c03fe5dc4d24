from rest_framework.pagination import PageNumberPagination as BasePagination


class PageNumberPagination(BasePagination):
    """Pages of PAGE_SIZE rows. The `page_size` parameter requests up to 200."""

    page_size_query_param = "page_size"
    max_page_size = 200
