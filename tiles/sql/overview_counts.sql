-- One MVT layer of a tile from the village overview: a point per area of
-- level /*level*/ in tile $1/$2/$3 (grown by the buffer) with its counts
-- and the share of its villages covered. A count point is no village: it
-- has no MVT id.
SELECT coalesce(ST_AsMVT(m, /*name*/, 4096, 'geom', 'id'), ''::bytea)
FROM (
    SELECT NULL::bigint AS id, t.level, t.code, t.name, t.villages, t.population, t.covered,
           round(t.covered::numeric / greatest(t.villages, 1), 3)::float8 AS covered_share,
           ST_AsMVTGeom(t.geom_3857, ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
    FROM lastmile.village_overview t
    WHERE t.geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)
          AND t.level = /*level*/
    ORDER BY t.id
) m
WHERE m.geom IS NOT NULL
