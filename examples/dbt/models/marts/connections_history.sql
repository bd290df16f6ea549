-- One row per connection (of an account) ever seen: when it was first seen and when it
-- left. first_seen_at is the first snapshot that had it (for the first load: that load's
-- time, the API knows no connection date); left_at is the first snapshot that missed it.
with versions as (
    select
        connection_key,
        account,
        entity_urn,
        name,
        headline,
        public_identifier,
        dbt_valid_from,
        dbt_valid_to,
        row_number() over (partition by connection_key order by dbt_valid_from desc) as newest
    from {{ ref('connections_snapshot') }}
),

spans as (
    select
        connection_key,
        min(dbt_valid_from) as first_seen_at,
        bool_or(dbt_valid_to is null) as is_current,
        max(dbt_valid_to) as last_valid_to
    from versions
    group by connection_key
)

select
    versions.connection_key,
    versions.account,
    versions.entity_urn,
    versions.name,
    versions.headline,
    versions.public_identifier,
    spans.first_seen_at,
    case when spans.is_current then null else spans.last_valid_to end as left_at,
    spans.is_current
from versions
join spans on spans.connection_key = versions.connection_key
where versions.newest = 1
