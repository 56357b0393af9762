-- A merge patch (RFC 7396) of a feature's object fields (props): members
-- of the patch replace the target's, null removes a member, objects merge
-- member by member, recursively; anything but an object replaces the whole
-- value. PATCH /collections/{c}/items/{id} applies it to object fields
-- (postgis.Store.Patch); PUT still replaces them.
CREATE FUNCTION lastmile.json_merge_patch(target jsonb, patch jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    out jsonb;
    m   record;
BEGIN
    IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
        RETURN patch;
    END IF;
    out := CASE WHEN jsonb_typeof(target) = 'object' THEN target ELSE '{}'::jsonb END;
    FOR m IN SELECT key, value FROM jsonb_each(patch) LOOP
        IF jsonb_typeof(m.value) = 'null' THEN
            out := out - m.key;
        ELSE
            out := jsonb_set(out, ARRAY[m.key], lastmile.json_merge_patch(out -> m.key, m.value), true);
        END IF;
    END LOOP;
    RETURN out;
END
$$;
