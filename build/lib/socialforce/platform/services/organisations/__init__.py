"""Organisations through pages: city staff register and edit social-work agencies and pairing units and the
agencies' government-purchase contracts; town staff (and city staff) manage the pairings of their households.

Every rule is in this package (common, agencies, units, contracts, pairings: one module per kind of record);
the staff views only parse, call, commit and render.

- An organisation is one `providers` row (kind, name, home town, place, status) with its `agencies` or
  `pairing_units` row and the towns it covers (`provider_towns`). Staff created it, so it starts approved and is
  matched like any other once it publishes an offer (services/matching.py reads approved providers).
- Agencies: the unified social credit code (GB 32100-2015, `platform/uscc.py`) and the licence number are unique;
  a duplicate is refused with a message on its field. The contact phone is encrypted and shown masked only.
- Contracts (政府购买服务): budget in yuan (stored in cents), purchased hours, period and service categories.
  Two contracts of one agency may not overlap in time for a shared category (the refusal names both). Hours used
  are charged by dispatch and never edited here; purchased hours may not go below them (a conditional UPDATE, so
  a charge landing at the same moment cannot slip under). Contract writes of one agency are serialised by
  touching the agency's row first, so two overlapping contracts saved at once cannot both pass the check.
- Pairings (结对): a unit holds at most one pairing with a household that has not ended (a partial unique index
  backs the check); ending sets `ended_on`, never deletes; the pairing's own monthly quota overrides the unit's.
  Staff reach only the pairings of households in their scope (town staff: their town).
- Every change writes one audit row (no personal data: the phone never enters `detail`).
"""
from __future__ import annotations

from socialforce.platform.services.organisations.agencies import (
    AgencyInput,
    agencies_by_credit_code,
    agencies_query,
    create_agency,
    duplicate_errors,
    get_agency,
    licence_holders,
    update_agency,
)
from socialforce.platform.services.organisations.common import (
    UNIT_TYPES,
    OrganisationInvalid,
    Place,
    require_city_staff,
)
from socialforce.platform.services.organisations.contracts import (
    ContractInput,
    budget_cents,
    contracts_by_code,
    contracts_query,
    create_contract,
    get_contract,
    overlapping,
    periods_overlap,
    update_contract,
    valid_purchased_hours,
)
from socialforce.platform.services.organisations.pairings import (
    NewPairing,
    PairingInput,
    active_pairing,
    active_pairings,
    already_paired_message,
    cadre_choices,
    create_pairing,
    create_pairings,
    end_pairing,
    get_pairing,
    household_code,
    pairing_unit_name,
    pairings_query,
    provider_names,
    unit_choices,
    update_pairing,
)
from socialforce.platform.services.organisations.units import (
    UnitInput,
    create_unit,
    get_unit,
    units_by_credit_code,
    units_query,
    units_without_code,
    update_unit,
)

__all__ = [
    "AgencyInput",
    "ContractInput",
    "NewPairing",
    "OrganisationInvalid",
    "PairingInput",
    "Place",
    "UNIT_TYPES",
    "UnitInput",
    "active_pairing",
    "active_pairings",
    "agencies_by_credit_code",
    "agencies_query",
    "already_paired_message",
    "budget_cents",
    "contracts_by_code",
    "cadre_choices",
    "contracts_query",
    "create_agency",
    "create_contract",
    "create_pairing",
    "create_pairings",
    "create_unit",
    "duplicate_errors",
    "end_pairing",
    "get_agency",
    "get_contract",
    "get_pairing",
    "get_unit",
    "household_code",
    "licence_holders",
    "overlapping",
    "periods_overlap",
    "pairing_unit_name",
    "pairings_query",
    "provider_names",
    "require_city_staff",
    "unit_choices",
    "units_by_credit_code",
    "units_query",
    "units_without_code",
    "update_agency",
    "update_contract",
    "update_pairing",
    "update_unit",
    "valid_purchased_hours",
]
