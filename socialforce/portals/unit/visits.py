"""Visit pages of the pairing-unit portal: the same calendar, order-visits and visit pages as the agency portal."""
from socialforce.portals.agency.visits import register_provider_routes
from socialforce.portals.unit.views import bp

register_provider_routes(bp)
