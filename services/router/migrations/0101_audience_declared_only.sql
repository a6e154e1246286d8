-- Consent scope (issue 7, decided by the lead): the consent text says the linked employment record is
-- used only for personal reminders. So the columns that general notice audiences and statistics read
-- (establishment_id, municipality_code, nationality, residence_status) are, from now on, only what the
-- worker declared: the employer and city of their registration code, the nationality and status they
-- chose in the conversation. The record_* columns stay: personal reminders (and their {date}, {city},
-- {employer}) read them and the employments table directly.
--
-- PostgreSQL 15 cannot change a generated column's expression, so the columns are dropped and added again
-- (one table rewrite). Indexes on them must be created after this migration (0200+ for issue 8).
-- A future consent text that allows more would be a new migration and a new consent version.

ALTER TABLE subscribers
    DROP COLUMN establishment_id,
    DROP COLUMN municipality_code,
    DROP COLUMN nationality,
    DROP COLUMN residence_status;

ALTER TABLE subscribers
    ADD COLUMN establishment_id  text COLLATE "C" GENERATED ALWAYS AS (declared_establishment_id) STORED,
    ADD COLUMN municipality_code text GENERATED ALWAYS AS (declared_municipality_code) STORED,
    ADD COLUMN nationality       text GENERATED ALWAYS AS (declared_nationality) STORED,
    ADD COLUMN residence_status  text GENERATED ALWAYS AS (declared_residence_status) STORED;

COMMENT ON COLUMN subscribers.municipality_code IS
    'audience column: the city the worker declared (registration code); never the linked record''s (consent scope)';
COMMENT ON COLUMN subscribers.establishment_id IS
    'audience column: the employer the worker declared (registration code); never the linked record''s';
COMMENT ON COLUMN subscribers.nationality IS 'audience column: declared nationality only';
COMMENT ON COLUMN subscribers.residence_status IS 'audience column: declared status of residence only';
