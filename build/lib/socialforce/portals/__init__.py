"""One blueprint per kind of user: staff, agency, unit (pairing unit), volunteer, plus public pages."""
