from rest_framework.pagination import PageNumberPagination as BasePagination


class PageNumberPagination(BasePagination):
    """Pages of PAGE_SIZE rows; `page_size` asks for up to 200 per page."""

    page_size_query_param = "page_size"
    max_page_size = 200
