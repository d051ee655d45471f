"""Business operations: they change state, flush and audit; they never read `request` or commit."""


class ServiceError(Exception):
    """A refused operation with a message for the user (already translated) and an HTTP status."""

    def __init__(self, message: str, status: int = 409, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
