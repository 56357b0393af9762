-- Villages nearer to one of the changed roads $2 (as they are now) than to
-- their recorded nearest road: within $3 metres of the road, or (second
-- form) recorded as farther than $3 or with no road at all.
UPDATE lastmile.village_access a
SET distance_m = x.d, road_id = x.road_id
FROM (
    SELECT DISTINCT ON (v.id) v.id, s.id AS road_id, ST_Distance(s.geom::geography, v.geom::geography) AS d
    FROM lastmile.roads s
    JOIN lastmile.villages v ON /*candidates*/
    WHERE s.id = ANY($2) AND /*pred*/
    ORDER BY v.id, d, s.id
) x
WHERE a.definition = $1 AND a.village_id = x.id
  AND (a.distance_m IS NULL OR x.d < a.distance_m OR (x.d = a.distance_m AND x.road_id < a.road_id))
