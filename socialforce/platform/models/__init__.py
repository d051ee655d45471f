"""All models, importable from one place."""
from socialforce.platform.models import tenancy as _tenancy  # noqa: F401  (the county of new rows)
from socialforce.platform.models.audit import AuditLog
from socialforce.platform.models.background import BackgroundJob, JobState
from socialforce.platform.models.base import utcnow
from socialforce.platform.models.codes import OneTimeCode
from socialforce.platform.models.dashboard import (
    AggregateCoverage,
    DailyAggregate,
    MonthlyAggregate,
    StaleDay,
)
from socialforce.platform.models.drafts import DraftStatus, ItemDraft
from socialforce.platform.models.feedback_links import FeedbackLink, LinkDelivery
from socialforce.platform.models.geo import County, Town, Village
from socialforce.platform.models.households import (
    AssistanceCategory,
    Enrollment,
    Household,
    HouseholdChange,
    MaterialAssistance,
    Member,
    Sex,
)
from socialforce.platform.models.items import Frequency, ItemStatus, Priority, ServiceCategory, ServiceItem
from socialforce.platform.models.jobs import JobRun, SchedulerLease
from socialforce.platform.models.notifications import (
    Notification,
    NotificationSettings,
    OutboxMessage,
    OutboxStatus,
)
from socialforce.platform.models.offers import OfferStatus, ServiceOffer, offer_categories, offer_towns
from socialforce.platform.models.orders import (
    EvaluationSource,
    FeedbackChannel,
    HouseholdFeedback,
    Impression,
    Order,
    OrderEvent,
    OrderState,
    Outcome,
    Resolution,
    ServiceRecord,
    TaskSignup,
    Visit,
    VisitSeries,
    VisitStatus,
    VolunteerTask,
)
from socialforce.platform.models.providers import (
    Agency,
    Contract,
    HouseholdBlock,
    MemberRole,
    Pairing,
    PairingUnit,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    Qualification,
    Volunteer,
    contract_categories,
    provider_counties,
    provider_towns,
)
from socialforce.platform.models.ranker import RankerModel
from socialforce.platform.models.recognition import CalendarFeed, HoursCertificate
from socialforce.platform.models.tokens import ApiClient, ApiClientToken, ApiToken, IdempotentResponse
from socialforce.platform.models.users import LoginThrottle, Role, User
from socialforce.platform.models.waitlist import OPEN_WAITLIST_STATES, WaitlistEntry, WaitlistState

__all__ = [
    "AggregateCoverage", "DailyAggregate", "MonthlyAggregate", "StaleDay",
    "Agency", "ApiClient", "ApiClientToken", "ApiToken", "AssistanceCategory", "AuditLog", "BackgroundJob",
    "CalendarFeed", "Contract", "County",
    "DraftStatus", "Enrollment", "EvaluationSource", "FeedbackChannel", "Frequency", "Household", "HouseholdBlock",
    "HouseholdChange", "HouseholdFeedback", "HoursCertificate", "IdempotentResponse", "Impression", "ItemDraft",
    "ItemStatus", "JobRun", "JobState", "LoginThrottle", "MaterialAssistance", "Member", "MemberRole", "Notification",
    "NotificationSettings", "OfferStatus", "OneTimeCode", "Order", "OrderEvent", "OrderState", "OutboxMessage",
    "OutboxStatus", "Outcome", "Pairing", "PairingUnit", "Priority", "Provider", "ProviderKind",
    "ProviderMember", "ProviderStatus", "Qualification", "RankerModel", "Resolution", "Role", "SchedulerLease",
    "ServiceCategory", "ServiceItem", "ServiceOffer", "ServiceRecord", "Sex", "TaskSignup", "Town", "User",
    "Village", "Visit", "VisitSeries", "VisitStatus", "Volunteer", "VolunteerTask", "contract_categories",
    "offer_categories", "offer_towns", "provider_counties", "provider_towns", "utcnow",
    "OPEN_WAITLIST_STATES", "WaitlistEntry", "WaitlistState", "FeedbackLink", "LinkDelivery",
]
