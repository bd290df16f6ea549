-- One row per connection (of an account) ever seen: when it was first seen, whether it
-- is connected now, when it was removed, how often it came back, and how long it has
-- been (or was) connected. Built from the connections' history columns and the
-- connection events; no snapshot needed. Times are UTC, without a time zone, as
-- target-postgres stores the tap's date-times.
with connections as (
    select * from {{ ref('stg_linkedin__connections') }}
),

events as (
    select * from {{ ref('stg_linkedin__connection_events') }}
),

per_connection as (
    select
        connection_key,
        min(account) as account,
        min(entity_urn) as entity_urn,
        (array_agg(public_identifier order by event_sequence desc))[1] as public_identifier,
        min(observed_at) filter (where event = 'added') as added_at,
        count(*) filter (where event = 'removed') as times_removed,
        count(*) filter (where event = 'reconnected') as times_reconnected,
        count(*) filter (where event = 'headline_changed') as headline_changes,
        max(observed_at) filter (where event = 'removed') as last_removed_at,
        max(observed_at) filter (where event = 'reconnected') as last_reconnected_at,
        (array_agg(previous_headline order by event_sequence desc)
            filter (where event = 'removed'))[1] as headline_when_removed
    from events
    group by connection_key
),

joined as (
    select
        coalesce(c.connection_key, e.connection_key) as connection_key,
        coalesce(c.account, e.account) as account,
        coalesce(c.entity_urn, e.entity_urn) as entity_urn,
        c.name,
        coalesce(c.headline, e.headline_when_removed) as headline,
        coalesce(c.public_identifier, e.public_identifier) as public_identifier,
        c.connected_on,
        -- For a connection there at the account's first complete pass, the tap gives the
        -- day it was made when known (the LinkedIn export); else when it first read it.
        coalesce(c.first_seen_at, e.added_at) as first_seen_at,
        c.last_seen_at,
        -- A row the loader dropped (removed_connections delete, hard_delete) is gone.
        coalesce(c.is_connected, false) as is_connected,
        coalesce(c.removed_at, e.last_removed_at) as removed_at,
        coalesce(e.times_removed, 0) as times_removed,
        coalesce(e.times_reconnected, 0) as times_reconnected,
        coalesce(e.headline_changes, 0) as headline_changes,
        e.last_reconnected_at
    from connections as c
    full outer join per_connection as e on e.connection_key = c.connection_key
)

select
    connection_key,
    account,
    entity_urn,
    name,
    headline,
    public_identifier,
    connected_on,
    first_seen_at,
    last_seen_at,
    is_connected,
    case when is_connected then null else removed_at end as removed_at,
    times_removed,
    times_reconnected,
    last_reconnected_at as reconnected_at,
    headline_changes,
    -- The current (or last) stretch of connection began at the last re-connection, else
    -- on the day it was made, else when the tap first saw it.
    coalesce(last_reconnected_at, connected_on::timestamp, first_seen_at) as connected_since,
    round(
        (extract(epoch from (
            case
                when is_connected then ('{{ run_started_at }}'::timestamptz at time zone 'UTC')
                else removed_at
            end
            - coalesce(last_reconnected_at, connected_on::timestamp, first_seen_at)
        )) / 86400)::numeric,
        1
    ) as days_connected
from joined
