-- One MVT layer of a tile from a line overview (/*table*/: road_overview,
-- water_pipeline_overview, power_upgrade_overview): the collected lines of
-- band /*band*/ visible at zoom $1 that touch tile $1/$2/$3 (grown by the
-- buffer), with the kept columns and the number of features collected
-- (/*lines*/: the columns, NULL for those only the rows have). /*where*/
-- holds the tile's filters on kept fields. /*points*/ is empty, or
-- overview_points.sql: the layer's points drawn from its rows beside the
-- lines (power: transformers), with the same columns. /*properties*/ names
-- the columns of both. An overview line is no feature of the layer: it has
-- no MVT id (a client asking the feature API for its row's id would get
-- another feature); the points keep theirs.
SELECT coalesce(ST_AsMVT(m, /*name*/, 4096, 'geom', 'id'), ''::bytea)
FROM (
    SELECT CASE WHEN u.part = 1 THEN u.ord END AS id, /*properties*/
           ST_AsMVTGeom(u.geom_3857, ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
    FROM (
        SELECT 0 AS part, t.id AS ord, /*lines*/ t.geom_3857
        FROM /*table*/ t
        WHERE t.geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)
              AND t.band = /*band*/ AND t.minzoom <= $1
              /*where*/
        /*points*/
    ) u
    ORDER BY u.part, u.ord
) m
WHERE m.geom IS NOT NULL
