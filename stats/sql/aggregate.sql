-- Grouped totals over one layer (lengths, progress). Each row of the layer
-- (times each as-of date of a series) is reduced to its group keys d0…dn,
-- its status as of the date, and the measures; then summed per group and
-- overall with GROUPING SETS, so group totals add up to the overall total by
-- construction.
WITH y AS (
    /*dates*/
), t AS (
    SELECT /*row_columns*/,
           CASE WHEN t.status = 'cancelled' THEN 'cancelled'
                WHEN y.as_of IS NULL THEN t.status
                WHEN t.status = 'completed' AND t.completed_on <= y.as_of THEN 'completed'
                WHEN t.started_on <= y.as_of THEN 'under_construction'
                ELSE 'planned'
           END AS st
    FROM /*table*/ t CROSS JOIN y
    WHERE /*filter*/
)
SELECT /*grouping*/ AS is_total, /*select*/
FROM t
WHERE /*where_status*/
GROUP BY /*group_by*/
ORDER BY is_total, /*order*/
