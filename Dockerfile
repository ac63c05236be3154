# Greenlight's production image: gunicorn for web, the same image for the Celery worker and beat.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GREENLIGHT_ENV=production \
    DATA_DIR=/app/data

WORKDIR /app
RUN useradd --create-home --uid 10001 greenlight
# DejaVu gives PDF exports the full range of names and symbols (Łukasz, Zoë, £).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Static files are collected with the production storage (hashed names, compressed) at build time;
# the key and host below exist only for this step and never reach a running container.
RUN SECRET_KEY=collectstatic-only-not-a-secret ALLOWED_HOSTS=build.invalid \
        python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/data/media \
    && chown -R greenlight:greenlight /app/data

USER greenlight
EXPOSE 8000

# ASGI workers: a streamed assistant answer waits on the event loop, not on a worker process.
# Idle keep-alive connections stay open longer than the HTTPS proxy in front keeps them (60 s is the
# common idle timeout): with gunicorn's default of 2 s, a request the proxy sends on a connection just
# as gunicorn closes it fails, and `make load` saw exactly that, as dropped connections.
CMD ["gunicorn", "config.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker", \
     "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--timeout", "60", "--graceful-timeout", "30", \
     "--keep-alive", "75"]
