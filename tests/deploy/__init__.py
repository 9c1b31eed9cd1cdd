"""Checks of the deployment files (Dockerfile, docker-compose.yml, infra/k8s) without Docker or a
cluster: schemas, the Kubernetes API models, and the services' real settings."""
