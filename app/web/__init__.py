"""The sales team's web app under /app: server-rendered pages over the same services as the API."""
