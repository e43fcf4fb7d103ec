-- V0016: pattern applications keep patterns.usage_count true (findings F11, F27).
-- The seed declares usage_count "Times applied" but nothing ever changes it (F27). It is
-- maintained here rather than derived: it is read on every listing of popular templates and
-- sorted by an index (ix_patterns_usage_count), while applications are written one at a time.
-- UPDATE ... SET usage_count = usage_count + 1 takes the pattern's row lock, so concurrent
-- applications queue on it and none is lost (tested with 8 concurrent appliers). Applying a
-- soft-deleted pattern is refused.
CREATE FUNCTION count_pattern_applications() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE patterns SET usage_count = usage_count - 1 WHERE id = OLD.pattern_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE patterns SET usage_count = usage_count + 1 WHERE id = NEW.pattern_id AND deleted_at IS NULL;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'pattern applications: pattern % is deleted', NEW.pattern_id
                USING ERRCODE = 'invalid_parameter_value', CONSTRAINT = 'pattern_applications_live_pattern';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER trg_pattern_applications_usage_count AFTER INSERT OR UPDATE OF pattern_id OR DELETE ON pattern_applications
    FOR EACH ROW EXECUTE FUNCTION count_pattern_applications();
