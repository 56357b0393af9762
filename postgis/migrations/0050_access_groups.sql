-- village_access carries what a coverage tally needs from the village — its
-- county and township codes and its population and poor households — so a
-- question without a target filter is one scan of village_access, with no
-- join to villages (500 000 villages: a few hundred milliseconds instead of
-- seconds). The columns are written when a village's rows are computed; any
-- write to a village already leads to its rows being recomputed.
ALTER TABLE lastmile.village_access
    ADD COLUMN county          text,
    ADD COLUMN township        text,
    ADD COLUMN population      bigint,
    ADD COLUMN poor_households bigint;

-- Rows computed before have no group codes yet: the table is rebuilt on
-- next use (with 0070, without blocking writers).
UPDATE lastmile.access_state SET built = false;
