-- The village overview rows of the areas $1 (text[] of 12-digit county and
-- township codes; NULL: every area) into the temporary table ov_villages:
-- per area of each level (/*levels*/: VALUES (level, digits of the code)),
-- its villages, their population, how many lie within 2 km (geodesic, on
-- the ellipsoid) of a completed all-season road (/*all_season*/, the
-- catalog's definition), the centroid of its villages (EPSG:3857, for
-- drawing) and the admin area's name. Whether a village is covered is read
-- from the stats' nearest-road table (lastmile.village_access, definition
-- /*access_definition*/: the same roads, the exact geodesic distance) when
-- that is current in this snapshot — built, no change pending — which
-- costs an index probe a village; otherwise measured here: the Mercator box
-- that finds the roads is 2 km over the cosine of the latitude, with a
-- margin, then ST_DWithin on geography.
CREATE TEMP TABLE ov_villages ON COMMIT DROP AS
WITH lv (level, digits) AS (
    VALUES /*levels*/
), acc AS MATERIALIZED (
    SELECT built AND NOT EXISTS (SELECT 1 FROM lastmile.access_changes) AS current FROM lastmile.access_state
), v AS MATERIALIZED (
    -- each village once: its code and whether it is covered
    SELECT coalesce(v.admin_code, v.code) AS code, v.population, v.geom_3857,
           CASE WHEN acc.current THEN coalesce((
               SELECT a.distance_m <= 2000 FROM lastmile.village_access a
               WHERE a.definition = /*access_definition*/ AND a.village_id = v.id), false)
           ELSE EXISTS (
               SELECT 1 FROM lastmile.roads r
               WHERE r.geom_3857 && ST_Expand(v.geom_3857, 2020 / cos(radians(least(89, abs(ST_Y(v.geom)) + 0.05))))
                 AND /*all_season*/
                 AND ST_DWithin(r.geom::geography, v.geom::geography, 2000)) END AS covered
    FROM lastmile.villages v
    CROSS JOIN acc
    WHERE coalesce(v.admin_code, v.code) IS NOT NULL
      AND ($1::text[] IS NULL OR EXISTS (SELECT 1 FROM lv, unnest($1::text[]) a(code)
                                         WHERE rpad(left(coalesce(v.admin_code, v.code), lv.digits), 12, '0') = a.code))
), va AS (
    SELECT lv.level, rpad(left(v.code, lv.digits), 12, '0') AS code, v.population, v.geom_3857, v.covered
    FROM v CROSS JOIN lv
)
SELECT va.level, va.code, a.name, count(*)::int AS villages, coalesce(sum(va.population), 0)::bigint AS population,
       count(*) FILTER (WHERE va.covered)::int AS covered,
       ST_Centroid(ST_Collect(va.geom_3857))::geometry(Point, 3857) AS geom_3857
FROM va
LEFT JOIN lastmile.admin_areas a ON a.code = va.code
WHERE $1::text[] IS NULL OR va.code = ANY($1)
GROUP BY va.level, va.code, a.name
