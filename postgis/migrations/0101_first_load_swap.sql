-- A first load builds its layer's indexes once, after the COPY (issue 19).
--
-- A first load (one file into an empty layer) used to COPY straight into the
-- layer's table, maintaining its six indexes row by row: 60 % of
-- PostgreSQL's time. Dropping the indexes for the load would lock the layer
-- against readers until the commit. Instead the rows go into a new table of
-- the same name in the schema lastmile_load, made LIKE the layer's table
-- (columns, defaults, generated columns, CHECK constraints, comments) with
-- the layer's triggers (so the load's history, change logs and stamps are
-- written as they always are: the triggers see TG_TABLE_NAME = the layer),
-- and no index. Then lastmile.first_load_finish builds the indexes and
-- constraints over the loaded rows (GiST sorted builds where PostGIS has
-- them) and swaps the new table in for the old, still empty (when another
-- writer wrote to it during the load, nothing is swapped and the import is
-- staged instead, as an upsert over those rows). Readers read the old table until the
-- commit; the swap waits for the layer's readers in short turns (lock
-- timeouts of 200 ms, 200 ms apart) so that no reader queues behind it for
-- long. Ids go on from the layer's sequence: the new table draws from it
-- during the load, then gets an identity of its own where that stopped.
--
-- first_load_begin returns NULL (the load goes into the table itself, as
-- before) when the table carries what the swap does not know how to carry
-- over: row security, column privileges, another owner, non-default
-- trigger states, foreign keys referring to it, or dependent objects other
-- than its indexes, constraints, triggers, sequences, plain views on it and
-- functions of its row type (those two are dropped and created again:
-- their definition, options, comment and privileges).

CREATE SCHEMA lastmile_load;
COMMENT ON SCHEMA lastmile_load IS
    'tables of first loads in progress (lastmile.first_load_begin): each swapped in for its layer''s table at the commit';

-- What depends on p_table and is dropped and created again around the
-- swap (views on it, functions taking or returning its row type): the
-- statements dropping them, the ones creating them again (definition,
-- options, comment, privileges) and the views to lock; NULL when something
-- else depends on them or on the row type.
CREATE FUNCTION lastmile.first_load_dependents(p_table regclass, OUT drops text[], OUT creates text[], OUT views regclass[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public AS $$
DECLARE
    rowtype oid := (SELECT reltype FROM pg_class WHERE oid = p_table);
    o       record;
    r       record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = 'pg_type'::regclass AND refobjid = rowtype
                  AND NOT (classid = 'pg_proc'::regclass OR (classid = 'pg_type'::regclass AND deptype = 'i'))) THEN
        RETURN;
    END IF;
    drops := '{}'; creates := '{}'; views := '{}';
    FOR o IN SELECT DISTINCT c.oid, c.relkind, c.reloptions, c.relacl, c.relowner
               FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class c ON c.oid = w.ev_class
              WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
                AND d.refobjid = p_table AND c.oid <> p_table ORDER BY c.oid LOOP
        IF o.relkind <> 'v' OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid
                                        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = o.oid AND w.ev_class <> o.oid) THEN
            drops := NULL; creates := NULL; views := NULL;
            RETURN;
        END IF;
        views := views || o.oid::regclass;
        drops := drops || format('DROP VIEW %s', o.oid::regclass);
        creates := creates || format('CREATE VIEW %s%s AS %s', o.oid::regclass,
                                     CASE WHEN o.reloptions IS NOT NULL THEN ' WITH (' || array_to_string(o.reloptions, ', ') || ')' ELSE '' END,
                                     pg_get_viewdef(o.oid));
        IF obj_description(o.oid, 'pg_class') IS NOT NULL THEN
            creates := creates || format('COMMENT ON VIEW %s IS %L', o.oid::regclass, obj_description(o.oid, 'pg_class'));
        END IF;
        FOR r IN SELECT privilege_type, grantee FROM aclexplode(o.relacl) WHERE grantee <> o.relowner LOOP
            creates := creates || format('GRANT %s ON %s TO %s', r.privilege_type, o.oid::regclass,
                                         CASE r.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END);
        END LOOP;
    END LOOP;
    FOR o IN SELECT DISTINCT p.oid, p.proacl FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
              WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_type'::regclass AND d.refobjid = rowtype ORDER BY p.oid LOOP
        IF EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = 'pg_proc'::regclass AND refobjid = o.oid) THEN
            drops := NULL; creates := NULL; views := NULL;
            RETURN;
        END IF;
        drops := drops || format('DROP FUNCTION %s', o.oid::regprocedure);
        creates := creates || pg_get_functiondef(o.oid);
        IF obj_description(o.oid, 'pg_proc') IS NOT NULL THEN
            creates := creates || format('COMMENT ON FUNCTION %s IS %L', o.oid::regprocedure, obj_description(o.oid, 'pg_proc'));
        END IF;
        IF o.proacl IS NOT NULL THEN
            creates := creates || format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', o.oid::regprocedure);
            FOR r IN SELECT privilege_type, grantee FROM aclexplode(o.proacl) LOOP
                creates := creates || format('GRANT %s ON FUNCTION %s TO %s', r.privilege_type, o.oid::regprocedure,
                                             CASE r.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END);
            END LOOP;
        END IF;
    END LOOP;
END
$$;

-- Creates the table a first load of p_table copies into (no index yet) and
-- returns it, or NULL when p_table must be loaded in place.
CREATE FUNCTION lastmile.first_load_begin(p_table regclass) RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    rel    pg_class;
    shadow text;
    seq    text;
    def    text;
    on_old text := ' ON ' || p_table::text || ' ';
    r      record;
BEGIN
    SELECT * INTO rel FROM pg_class WHERE oid = p_table;
    seq := pg_get_serial_sequence(p_table::text, 'id');
    IF rel.relkind <> 'r' OR rel.relrowsecurity OR rel.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) OR seq IS NULL
       OR EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_table AND attacl IS NOT NULL)
       OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = p_table AND NOT tgisinternal AND tgenabled <> 'O')
       OR EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = p_table)
       OR EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = 'pg_class'::regclass AND refobjid = p_table
                     AND classid NOT IN ('pg_class'::regclass, 'pg_type'::regclass, 'pg_attrdef'::regclass,
                                         'pg_constraint'::regclass, 'pg_trigger'::regclass, 'pg_rewrite'::regclass))
       OR (lastmile.first_load_dependents(p_table)).drops IS NULL THEN
        RETURN NULL;
    END IF;
    shadow := format('lastmile_load.%I', rel.relname);
    EXECUTE format('CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS
                    INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)', shadow, p_table);
    EXECUTE format('ALTER TABLE %s ALTER id SET DEFAULT nextval(%L::regclass)', shadow, seq);
    IF rel.reloptions IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s SET (%s)', shadow, array_to_string(rel.reloptions, ', '));
    END IF;
    EXECUTE format('COMMENT ON TABLE %s IS %L', shadow, obj_description(p_table, 'pg_class'));
    FOR r IN SELECT privilege_type, grantee FROM aclexplode(rel.relacl) WHERE grantee <> rel.relowner LOOP
        EXECUTE format('GRANT %s ON %s TO %s', r.privilege_type, shadow,
                       CASE r.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END);
    END LOOP;
    FOR r IN SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = p_table AND NOT tgisinternal LOOP
        def := overlay(r.def PLACING ' ON ' || shadow || ' ' FROM position(on_old IN r.def) FOR length(on_old));
        EXECUTE def;
    END LOOP;
    RETURN shadow::regclass;
END
$$;

-- Builds the indexes and constraints of p_table on p_shadow (its first
-- load, from first_load_begin) and puts p_shadow in its place. Returns
-- false, swapping nothing, when another writer wrote to p_table during the
-- load: the import then goes the staged way.
CREATE FUNCTION lastmile.first_load_finish(p_table regclass, p_shadow regclass) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    nsp     text := (SELECT nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid WHERE c.oid = p_table);
    name    text := format('%I.%I', nsp, (SELECT relname FROM pg_class WHERE oid = p_table));
    on_old  text := ' ON ' || p_table::text || ' ';
    seq     text := pg_get_serial_sequence(p_table::text, 'id');
    dep     record := lastmile.first_load_dependents(p_table);
    v       regclass;
    stmt    text;
    r       record;
    s       record;
    timeout text := current_setting('lock_timeout');
    tries   int := 0;
    written boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', p_table) INTO written;
    IF written THEN
        RETURN false; -- (see below), before building anything
    END IF;
    -- the constraints' indexes first (primary key, unique), then the others
    FOR r IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
              WHERE conrelid = p_table AND contype IN ('p', 'u', 'x', 'f') ORDER BY contype = 'f', conname LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', p_shadow, r.conname, r.def);
    END LOOP;
    FOR r IN SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
              WHERE i.indrelid = p_table
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = p_table AND c.conindid = i.indexrelid)
              ORDER BY i.indexrelid LOOP
        EXECUTE overlay(r.def PLACING ' ON ' || p_shadow::text || ' ' FROM position(on_old IN r.def) FOR length(on_old));
    END LOOP;
    -- The old table and its views, exclusively: in turns of 200 ms, so that
    -- readers arriving meanwhile wait at most that long behind the request.
    PERFORM set_config('lock_timeout', '200ms', true);
    LOOP
        BEGIN
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', p_table);
            FOREACH v IN ARRAY dep.views LOOP
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', v);
            END LOOP;
            EXIT;
        EXCEPTION WHEN lock_not_available THEN
            tries := tries + 1;
            IF tries >= 300 THEN
                RAISE EXCEPTION 'the layer''s table % is in use: its first load could not be swapped in', p_table
                    USING ERRCODE = 'lock_not_available';
            END IF;
            PERFORM pg_sleep(0.2);
        END;
    END LOOP;
    PERFORM set_config('lock_timeout', timeout, true);
    -- rows other writers committed during the load: the import is staged
    -- instead (an upsert over them)
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', p_table) INTO written;
    IF written THEN
        RETURN false;
    END IF;
    -- the sequence's place, and how the old identity was made
    SELECT a.attidentity, q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache, q.seqcycle INTO s
      FROM pg_attribute a, pg_sequence q WHERE a.attrelid = p_table AND a.attname = 'id' AND q.seqrelid = seq::regclass;
    EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO r;
    FOREACH stmt IN ARRAY dep.drops LOOP
        EXECUTE stmt;
    END LOOP;
    EXECUTE format('ALTER TABLE %s ALTER id DROP DEFAULT', p_shadow);
    EXECUTE format('DROP TABLE %s', p_table);
    EXECUTE format('ALTER TABLE %s SET SCHEMA %I', p_shadow, nsp);
    EXECUTE format('ALTER TABLE %s ALTER id ADD GENERATED %s AS IDENTITY (START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s %sCYCLE)',
                   name, CASE s.attidentity WHEN 'd' THEN 'BY DEFAULT' ELSE 'ALWAYS' END,
                   s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN '' ELSE 'NO ' END);
    PERFORM setval(pg_get_serial_sequence(name, 'id'), r.last_value, r.is_called);
    FOREACH stmt IN ARRAY dep.creates LOOP
        EXECUTE stmt;
    END LOOP;
    RETURN true;
END
$$;
