"""`make load`: Greenlight under a mixed small-business load, as production serves it.

`python -m config.load` (config/load/run.py) builds a throwaway PostgreSQL database, seeds organisations
(seed.py), starts gunicorn and a Celery worker on Redis (stack.py), runs Locust headless against them
(locustfile.py, whose routes are in routes.py) and prints requests per second, p50 and p95 per route
and every failure (report.py). plan.py is what the orchestrator tells the simulated users.
"""
