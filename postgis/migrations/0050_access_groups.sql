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

UPDATE lastmile.village_access a
SET county = g.county, township = g.township, population = v.population, poor_households = v.poor_households
FROM lastmile.villages v,
     LATERAL (SELECT CASE WHEN c ~ '^[0-9]{12}$' THEN substr(c, 1, 6) || '000000' END AS county,
                     CASE WHEN c ~ '^[0-9]{12}$' THEN substr(c, 1, 9) || '000' END AS township
              FROM (SELECT coalesce(v.code, v.admin_code) AS c) x) g
WHERE v.id = a.village_id;
