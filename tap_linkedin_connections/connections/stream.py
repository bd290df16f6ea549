"""The `connections` stream: every account's 1st-degree connections.

How the accounts are read side by side, and STATE's layout, are the base stream's
(accounts/stream.py); one account's pass is account_pass.py's.
"""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_linkedin_connections.account_pass import ACCOUNT_STATE_KEYS, AccountPass
from tap_linkedin_connections.accounts.stream import AccountsStream

if t.TYPE_CHECKING:
    from tap_linkedin_connections.accounts.threads import Account


class ConnectionsStream(AccountsStream):
    """The accounts' 1st-degree connections, one RECORD per account and person."""

    name = "connections"
    primary_keys: t.ClassVar[list[str]] = ["account", "entity_urn"]

    # Records are built field by field from text values already checked (see
    # account_pass.to_record), so the SDK's per-record type conformance would only
    # cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    schema = th.PropertiesList(
        th.Property(
            "account",
            th.StringType,
            required=True,
            description=(
                "Whose connection this is: the account's name in the accounts setting, "
                "or `default` with the one-account api_key setting."
            ),
        ),
        th.Property(
            "entity_urn",
            th.StringType,
            required=True,
            description="The person's LinkedIn URN (urn:li:fsd_profile:...); stable id.",
        ),
        th.Property("name", th.StringType, description="Full name."),
        th.Property("first_name", th.StringType, description="First name."),
        th.Property("last_name", th.StringType, description="Last name."),
        th.Property("headline", th.StringType, description="Job title or description line."),
        th.Property(
            "public_identifier",
            th.StringType,
            description="Profile slug, as in https://www.linkedin.com/in/<slug>.",
        ),
        th.Property(
            "profile_url",
            th.StringType,
            description="https://www.linkedin.com/in/<public_identifier>, derived by the tap.",
        ),
        th.Property(
            "profile_image_url", th.StringType(nullable=True), description="Picture URL, or null."
        ),
    ).to_dict()

    account_state_keys = ACCOUNT_STATE_KEYS

    @override
    def reader(
        self, account: Account, state: dict[str, t.Any], checkpoint: t.Callable[[], None]
    ) -> AccountPass:
        """The account's pass over its connections."""
        return AccountPass(
            account,
            state,
            checkpoint=checkpoint,
            logger=self.log_for(account),
            user_agent=self.user_agent,
        )
