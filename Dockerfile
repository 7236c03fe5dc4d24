FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gimlet ./gimlet
COPY environments ./environments
COPY registries ./registries
COPY templates ./templates
COPY manage.py ./
RUN pip install . \
    && useradd --system --home /app gimlet \
    && mkdir -p /app/var \
    && chown gimlet /app/var

USER gimlet
EXPOSE 8000
CMD ["gunicorn", "gimlet.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
