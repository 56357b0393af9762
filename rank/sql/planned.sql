-- Candidates (b): the relocation sites with status planned, by id.
-- $1: the most rows to return (the cell limit plus one, to detect overflow).
SELECT s.id,
       coalesce(s.name, s.ext_id, '') AS name,
       ST_AsBinary(s.geom) AS wkb
FROM relocation_sites s
WHERE s.status = 'planned'
ORDER BY s.id
LIMIT $1
