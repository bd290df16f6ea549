-- Each account's connections as loaded, with their history columns. One person known to
-- two accounts is two rows: connection_key tells them apart.
--
-- A removed connection: with the tap's removed_connections mark (its default) the row
-- stays, is_connected false and removed_at set; with delete, target-postgres drops the row
-- (hard_delete true) or stamps _sdc_deleted_at (hard_delete false), read here as removed.
-- Rows loaded before the history columns existed have them null: connected.
select
    account || ' ' || entity_urn as connection_key,
    account,
    entity_urn,
    name,
    first_name,
    last_name,
    headline,
    public_identifier,
    profile_url,
    profile_image_url,
    connected_on,
    first_seen_at,
    last_seen_at,
    coalesce(is_connected, true) and _sdc_deleted_at is null as is_connected,
    coalesce(removed_at, _sdc_deleted_at) as removed_at
from {{ source('linkedin', 'connections') }}
