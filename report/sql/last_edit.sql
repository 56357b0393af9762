-- The last write to any layer (feature_history is written by a trigger on
-- every asset table, so nothing changes without a row here): when, by whom.
SELECT at, actor FROM lastmile.feature_history ORDER BY id DESC LIMIT 1
