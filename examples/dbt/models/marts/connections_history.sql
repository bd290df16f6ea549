-- One row per connection ever seen: when it was first seen and when it left.
-- first_seen_at is the first snapshot that had it (for the first load: that load's time,
-- the API knows no connection date); left_at is the first snapshot that missed it.
with versions as (
    select
        entity_urn,
        name,
        headline,
        public_identifier,
        dbt_valid_from,
        dbt_valid_to,
        row_number() over (partition by entity_urn order by dbt_valid_from desc) as newest
    from {{ ref('connections_snapshot') }}
),

spans as (
    select
        entity_urn,
        min(dbt_valid_from) as first_seen_at,
        bool_or(dbt_valid_to is null) as is_current,
        max(dbt_valid_to) as last_valid_to
    from versions
    group by entity_urn
)

select
    versions.entity_urn,
    versions.name,
    versions.headline,
    versions.public_identifier,
    spans.first_seen_at,
    case when spans.is_current then null else spans.last_valid_to end as left_at,
    spans.is_current
from versions
join spans on spans.entity_urn = versions.entity_urn
where versions.newest = 1
