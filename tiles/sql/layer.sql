-- One MVT layer of one tile (DESIGN.md §5). tiles/query.go fills the /*…*/
-- slots with identifiers from the catalog (quoted by pgx.Identifier) and
-- fixed expressions; every value is a $n parameter: $1 z, $2 x, $3 y, the
-- others (layer name, feature cap, tolerance, cell size, filter values) are
-- numbered as they are added.
--
-- The inner query picks at most /*cap*/ rows (the longest lines first)
-- whose geom_3857 touches the tile grown by the 64/4096 buffer (GiST index)
-- and that the layer's zoom rules admit at zoom $1 (in /*where*/, with the
-- filters), thinning points to one per grid cell below the layer's detail
-- zoom and dropping lines and polygons smaller than the simplification
-- tolerance below its max zoom; the outer query simplifies, clips and
-- quantises them and encodes the layer. Nothing is sampled.
SELECT coalesce(ST_AsMVT(m, /*name*/, 4096, 'geom', 'id'), ''::bytea)
FROM (
    SELECT c.id, /*properties*/
           ST_AsMVTGeom(/*geometry*/, ST_TileEnvelope($1, $2, $3), 4096, 64, true) AS geom
    FROM (
        SELECT /*distinct*/ t.id, /*columns*/ t.geom_3857
        FROM /*table*/ t
        WHERE t.geom_3857 && ST_TileEnvelope($1, $2, $3, margin => 64.0 / 4096)
              /*where*/
        ORDER BY /*order*/
        LIMIT /*cap*/
    ) c
) m
WHERE m.geom IS NOT NULL
