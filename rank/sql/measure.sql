-- Measures every candidate needs for the hard constraints and the scores:
-- geodesic distances (metres, on the WGS84 spheroid) to the nearest feature
-- of each kind, found with index-assisted KNN (geom::geography <-> candidate,
-- nearest on the sphere, then measured on the spheroid; one LATERAL probe per
-- candidate and kind, never a cross join), the
-- geodesic area of polygon candidates, and the population of villages
-- within $3 metres (skipped when $2 is false); the nearest village is
-- looked up only when $4 (the village constraint is on), within $6 metres
-- (its limit).
-- $1: the candidates' geometries as WKB (EPSG:4326); rows come back in any
-- order, each with its 1-based position in $1. Run with enable_sort off
-- (see measureChunk): the probes must stay index scans without statistics.
-- The hardened-road predicate (slot hardened) comes from the layer catalog (layer.Hardened)
-- and replaces the marker below when the package loads.
WITH c AS (
    SELECT u.ord, g AS geom, g::geography AS geog
    FROM unnest($1::bytea[]) WITH ORDINALITY AS u(wkb, ord),
         LATERAL ST_GeomFromWKB(u.wkb, 4326) AS g
)
SELECT c.ord,
       CASE WHEN ST_Dimension(c.geom) = 2 THEN ST_Area(c.geog) END AS area_m2,
       hz.id, hz.name, hz.kind, hz.d,
       rd.id, rd.name, rd.d,
       wp.id, wp.name, wp.d,
       ws.id, ws.name, ws.d,
       pw.id, pw.name, pw.kind, pw.d,
       sc.id, sc.name, sc.d,
       cl.id, cl.name, cl.kind, cl.d,
       vl.id, vl.name, vl.d,
       pp.population, pp.villages
FROM c
-- Every probe is bounded: $5 holds the search radius of each kind in metres
-- ([1] hazard, [2] road, [3] water, [4] power, [5] school, [6] clinic), the
-- largest distance that can change the answer (a constraint's limit, a
-- factor's d_max_m); beyond it "none" scores and constrains the same. 0 skips
-- the probe. Unbounded, a candidate far from the data made each KNN probe
-- recheck every row of the layer, since the index boxes of a distant layer
-- all lie at nearly the same distance (measured: 16 ms a cell far away).
-- Hazard zones: the zones within the buffer (an indexed geography
-- ST_DWithin), measured on the spheroid.
LEFT JOIN LATERAL (
    SELECT h.id, h.name, h.kind, ST_Distance(h.geom::geography, c.geog) AS d
    FROM hazard_zones h
    WHERE ($5::float8[])[1] > 0 AND h.status <> 'cancelled'
      AND ST_DWithin(h.geom::geography, c.geog, ($5::float8[])[1])
    ORDER BY d, h.id
    LIMIT 1
) hz ON true
LEFT JOIN LATERAL (
    SELECT r.id, r.name, ST_Distance(r.geom::geography, c.geog) AS d
    FROM roads r
    WHERE r.status = 'completed' AND /*hardened*/
      AND ($5::float8[])[2] > 0 AND ST_DWithin(r.geom::geography, c.geog, ($5::float8[])[2])
    ORDER BY r.geom::geography <-> c.geog
    LIMIT 1
) rd ON true
LEFT JOIN LATERAL (
    SELECT w.id, w.name, ST_Distance(w.geom::geography, c.geog) AS d
    FROM water_pipelines w
    WHERE w.status = 'completed'
      AND ($5::float8[])[3] > 0 AND ST_DWithin(w.geom::geography, c.geog, ($5::float8[])[3])
    ORDER BY w.geom::geography <-> c.geog
    LIMIT 1
) wp ON true
LEFT JOIN LATERAL (
    SELECT f.id, f.name, ST_Distance(f.geom::geography, c.geog) AS d
    FROM facilities f
    WHERE f.kind = 'water_source' AND f.status = 'completed'
      AND ($5::float8[])[3] > 0 AND ST_DWithin(f.geom::geography, c.geog, ($5::float8[])[3])
    ORDER BY f.geom::geography <-> c.geog
    LIMIT 1
) ws ON true
LEFT JOIN LATERAL (
    SELECT p.id, p.name, p.kind, ST_Distance(p.geom::geography, c.geog) AS d
    FROM power_upgrades p
    WHERE p.status = 'completed'
      AND ($5::float8[])[4] > 0 AND ST_DWithin(p.geom::geography, c.geog, ($5::float8[])[4])
    ORDER BY p.geom::geography <-> c.geog
    LIMIT 1
) pw ON true
LEFT JOIN LATERAL (
    SELECT f.id, f.name, ST_Distance(f.geom::geography, c.geog) AS d
    FROM facilities f
    WHERE f.kind = 'school' AND f.status = 'completed'
      AND ($5::float8[])[5] > 0 AND ST_DWithin(f.geom::geography, c.geog, ($5::float8[])[5])
    ORDER BY f.geom::geography <-> c.geog
    LIMIT 1
) sc ON true
LEFT JOIN LATERAL (
    SELECT f.id, f.name, f.kind, ST_Distance(f.geom::geography, c.geog) AS d
    FROM facilities f
    WHERE f.kind IN ('clinic', 'hospital') AND f.status = 'completed'
      AND ($5::float8[])[6] > 0 AND ST_DWithin(f.geom::geography, c.geog, ($5::float8[])[6])
    ORDER BY f.geom::geography <-> c.geog
    LIMIT 1
) cl ON true
LEFT JOIN LATERAL (
    SELECT v.id, v.name, ST_Distance(v.geom::geography, c.geog) AS d
    FROM villages v
    WHERE $4::boolean AND v.status <> 'cancelled'
      AND ST_DWithin(v.geom::geography, c.geog, $6::float8)
    ORDER BY v.geom::geography <-> c.geog
    LIMIT 1
) vl ON true
LEFT JOIN LATERAL (
    SELECT coalesce(sum(v.population), 0)::bigint AS population, count(*) AS villages
    FROM villages v
    WHERE $2::boolean AND v.status <> 'cancelled'
      AND ST_DWithin(v.geom::geography, c.geog, $3::float8)
) pp ON true
