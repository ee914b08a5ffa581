# One image for every process of the production shape (web, worker, beat, migrate).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
RUN pip install -e . && useradd --system --home /app warden && chown -R warden /app
USER warden
EXPOSE 8000
CMD ["warden", "web"]
