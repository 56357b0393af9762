-- One MVT layer of a tile from the road overview: the merged lines of band
-- /*band*/ visible at zoom $1 that touch tile $1/$2/$3 (grown by the
-- buffer), with the kept fields (/*properties*/) and the number of roads
-- merged. /*where*/ holds the tile's filters on kept fields.
SELECT coalesce(ST_AsMVT(m, /*name*/, 4096, 'geom', 'id'), ''::bytea)
FROM (
    SELECT t.id, /*properties*/ t.roads,
           ST_AsMVTGeom(t.geom_3857, ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
    FROM lastmile.road_overview t
    WHERE t.geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)
          AND t.band = /*band*/ AND t.minzoom <= $1
          /*where*/
    ORDER BY t.id
) m
WHERE m.geom IS NOT NULL
