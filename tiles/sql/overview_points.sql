-- The points of a layer whose lines a tile draws from its overview
-- (overview_lines.sql's /*points*/): the rows of /*table*/ that are points,
-- touch tile $1/$2/$3 (grown by the buffer) and that the zoom rules admit
-- at zoom $1 (in /*where*/, with the filters), thinned to one per grid cell
-- below the layer's detail zoom (/*distinct*/, /*order*/) and capped
-- (/*cap*/) as layer.sql does; /*columns*/ are overview_lines.sql's, from
-- the rows.
UNION ALL
SELECT p.* FROM (
    SELECT /*distinct*/ 1 AS part, t.id, /*columns*/ t.geom_3857
    FROM /*table*/ t
    WHERE t.geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)
          AND ST_Dimension(t.geom_3857) = 0
          /*where*/
    ORDER BY /*order*/
    LIMIT /*cap*/
) p
