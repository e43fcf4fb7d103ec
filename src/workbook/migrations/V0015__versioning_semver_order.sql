-- V0015: versioning, complete (seed §3 "Versioning Pattern"; findings F16, F26).
--  * semver_cmp() orders versions by Semantic Versioning 2.0 precedence: 1.10.0 > 1.9.0,
--    1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0, build metadata ignored. V0007 compared
--    only MAJOR.MINOR.PATCH, so 1.0.0 after 1.0.0-rc.1 was refused as "not newer".
--    workbook.rules.semver_cmp is the same rule in Python; a property test holds them together.
--  * create_template_version() refuses a malformed version (strict semver 2.0 grammar), a
--    version that is not newer than the template's current one, and a deleted template; the
--    history row and the template's current version change in one statement.
--  * template_versions is history: UPDATE and DELETE of its rows are refused (the seed lets
--    both through, F26). Rows go only with their template, by the foreign key's cascade.
CREATE FUNCTION semver_valid(p_version TEXT) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_version ~ '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
$$;

CREATE FUNCTION semver_cmp(a TEXT, b TEXT) RETURNS INTEGER
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    a_nb TEXT := split_part(a, '+', 1);
    b_nb TEXT := split_part(b, '+', 1);
    a_core TEXT[] := string_to_array(split_part(a_nb, '-', 1), '.');
    b_core TEXT[] := string_to_array(split_part(b_nb, '-', 1), '.');
    a_pre TEXT[];
    b_pre TEXT[];
    x TEXT;
    y TEXT;
BEGIN
    FOR i IN 1 .. 3 LOOP
        IF a_core[i]::numeric <> b_core[i]::numeric THEN
            RETURN CASE WHEN a_core[i]::numeric < b_core[i]::numeric THEN -1 ELSE 1 END;
        END IF;
    END LOOP;
    IF strpos(a_nb, '-') = 0 AND strpos(b_nb, '-') = 0 THEN
        RETURN 0;
    ELSIF strpos(a_nb, '-') = 0 THEN
        RETURN 1;  -- a release follows its pre-releases
    ELSIF strpos(b_nb, '-') = 0 THEN
        RETURN -1;
    END IF;
    a_pre := string_to_array(substr(a_nb, strpos(a_nb, '-') + 1), '.');
    b_pre := string_to_array(substr(b_nb, strpos(b_nb, '-') + 1), '.');
    FOR i IN 1 .. greatest(cardinality(a_pre), cardinality(b_pre)) LOOP
        IF i > cardinality(a_pre) THEN
            RETURN -1;  -- a shorter list of identifiers precedes a longer one it prefixes
        ELSIF i > cardinality(b_pre) THEN
            RETURN 1;
        END IF;
        x := a_pre[i];
        y := b_pre[i];
        IF x ~ '^[0-9]+$' AND y ~ '^[0-9]+$' THEN
            IF x::numeric <> y::numeric THEN
                RETURN CASE WHEN x::numeric < y::numeric THEN -1 ELSE 1 END;
            END IF;
        ELSIF x ~ '^[0-9]+$' THEN
            RETURN -1;  -- numeric identifiers precede alphanumeric ones
        ELSIF y ~ '^[0-9]+$' THEN
            RETURN 1;
        ELSIF x COLLATE "C" <> y COLLATE "C" THEN
            RETURN CASE WHEN x COLLATE "C" < y COLLATE "C" THEN -1 ELSE 1 END;
        END IF;
    END LOOP;
    RETURN 0;
END;
$$;

CREATE OR REPLACE FUNCTION create_template_version(
    p_template_id UUID,
    p_version TEXT,
    p_content JSONB,
    p_changelog TEXT,
    p_created_by UUID
) RETURNS UUID
LANGUAGE plpgsql AS $$
DECLARE
    v_current TEXT;
    v_deleted TIMESTAMP WITH TIME ZONE;
    v_version_id UUID;
BEGIN
    IF p_version IS NULL OR NOT semver_valid(p_version) THEN
        RAISE EXCEPTION 'versioning: % is not a semantic version (MAJOR.MINOR.PATCH[-pre-release][+build])', quote_nullable(p_version)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'template_versions_semver';
    END IF;
    SELECT version, deleted_at INTO v_current, v_deleted FROM templates WHERE id = p_template_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'versioning: no template %', p_template_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'template_versions_live_template';
    ELSIF v_deleted IS NOT NULL THEN
        RAISE EXCEPTION 'versioning: template % is deleted', p_template_id
            USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'template_versions_live_template';
    END IF;
    -- The first recorded version may be the template's current one; every later one must be newer.
    IF semver_cmp(p_version, v_current) < 0
       OR (semver_cmp(p_version, v_current) = 0 AND EXISTS (SELECT 1 FROM template_versions WHERE template_id = p_template_id)) THEN
        RAISE EXCEPTION 'versioning: % is not newer than the current version %', p_version, v_current
            USING ERRCODE = 'check_violation', CONSTRAINT = 'template_versions_newer';
    END IF;

    INSERT INTO template_versions (template_id, version, content, changelog, created_by)
    VALUES (p_template_id, p_version, p_content, p_changelog, p_created_by)
    RETURNING id INTO v_version_id;

    UPDATE templates SET version = p_version WHERE id = p_template_id;
    RETURN v_version_id;
END;
$$;

CREATE FUNCTION refuse_history_change() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    -- pg_trigger_depth() > 1: the delete comes from the cascade of the template's own deletion.
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'versioning: % is history: % refused; record a new version instead', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'template_versions_immutable';
END;
$$;

CREATE TRIGGER trg_template_versions_immutable BEFORE UPDATE OR DELETE ON template_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
