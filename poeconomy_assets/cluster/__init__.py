"""Running the graph beyond one process: Celery workers (deploy/celery) and the runs that feed them."""
