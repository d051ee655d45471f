"""The job scheduler: one declared job list, idempotent runs per period, and a lease so one process schedules.

Run it with `flask --app socialforce scheduler` (its own process; web workers never schedule) and run one job by
hand with `flask --app socialforce run-job JOB_ID [--now ISO]`.
"""
