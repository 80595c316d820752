-- A reviewed run's files are what the decision was about: once a run is approved or rejected
-- its files and artifact records do not change (`kobo rerun` makes a new run instead).
CREATE FUNCTION kobo_reviewed_run_frozen() RETURNS trigger AS $$
DECLARE
    run TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        run := OLD.run_id;
    ELSE
        run := NEW.run_id;
    END IF;
    IF EXISTS (SELECT 1 FROM reviews WHERE run_id = run)
        OR (TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM reviews WHERE run_id = OLD.run_id)) THEN
        RAISE EXCEPTION 'run % was reviewed; its files do not change (kobo rerun makes a new run)', run;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER run_files_frozen_after_review BEFORE INSERT OR UPDATE OR DELETE ON run_files
FOR EACH ROW EXECUTE FUNCTION kobo_reviewed_run_frozen();
CREATE TRIGGER run_artifacts_frozen_after_review BEFORE INSERT OR UPDATE OR DELETE ON run_artifacts
FOR EACH ROW EXECUTE FUNCTION kobo_reviewed_run_frozen();
