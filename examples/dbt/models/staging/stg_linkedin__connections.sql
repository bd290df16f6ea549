-- The connections each account has now. With target-postgres' hard_delete false, a
-- connection that a full pass no longer saw stays with _sdc_deleted_at set: left out here.
-- One person known to two accounts is two rows: connection_key tells them apart.
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
    profile_image_url
from {{ source('linkedin', 'connections') }}
where _sdc_deleted_at is null
