"""The background worker: `flask --app socialforce worker` runs the task queue's consumer with this app.

`runner` claims, runs and stamps one job and re-queues jobs whose worker died; `kinds` maps each job kind to its
handler (plain functions calling the services); `commands` is the CLI.
"""
