"""Settings for the gunicorn that `make bench-api` starts: the project's, with the bench URLs (the
project's plus the baseline view every measurement is set beside)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "config.bench_urls"
