"""The platform core: app factory, models, auth, services, scheduler and CLI."""
