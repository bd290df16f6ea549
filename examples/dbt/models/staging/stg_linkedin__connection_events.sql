-- The connection events, one row each (the tap re-sends an event after a killed run;
-- target-postgres upserts it on event_id, so it is still one row).
select
    event_id,
    account || ' ' || entity_urn as connection_key,
    account,
    entity_urn,
    public_identifier,
    event,
    observed_at,
    "previous" as previous_headline,
    "current" as current_headline,
    "sequence" as event_sequence
from {{ source('linkedin', 'connection_events') }}
