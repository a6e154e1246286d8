-- Audience snapshots are taken and published page by page (issue 8), so that the first batches of a
-- million-recipient notice reach the sender within a second instead of after the whole snapshot.
--
-- 1. Reachable subscribers by (language, line_user_id), with every other column an audience filters on:
--    a page is then an index-only range scan in the order batches are numbered (no sort, no heap
--    visits for subscribers whose pages are all-visible). Audience columns are the declared ones
--    (0101), so this migration comes after it. Built with a plain CREATE INDEX (migrations run in a
--    transaction): it holds writes to subscribers for a few seconds per million rows.
CREATE INDEX subscribers_reachable_by_language ON subscribers (language, line_user_id)
    INCLUDE (opted_out_categories, municipality_code, nationality, residence_status, establishment_id)
    WHERE followed AND unreachable_at IS NULL AND stopped_at IS NULL;

-- 2. snapshot_at: PostgreSQL's clock when the release began (subscribers.created_at is on the same
--    clock): a snapshot resumed after a crash leaves out whoever registered after it.
--    snapshot_completed_at: every page of the audience is in notice_batches; until then a resumed
--    release continues the snapshot where the committed pages end.
ALTER TABLE notices
    ADD COLUMN snapshot_at           timestamptz,
    ADD COLUMN snapshot_completed_at timestamptz;
-- Notices released before this migration were snapshotted in one transaction.
UPDATE notices SET snapshot_at = released_at, snapshot_completed_at = released_at
WHERE state IN ('publishing', 'planned');

-- 3. The recipients of a batch (500 ids, ~17 kB) are stored out of line uncompressed: compressing
--    hexadecimal ids saves little and costs CPU on every page written and read while a notice goes out.
ALTER TABLE notice_batches ALTER COLUMN recipients SET STORAGE EXTERNAL;
