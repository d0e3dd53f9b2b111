"""How steps execute: the executor a deployment picks (in process, Celery, Kubernetes) and the Celery queues.

Below ``defs/`` (assets tag their queue) and above ``resources/``; ``cluster/`` (workers, the cluster CLI) builds on it.
"""
