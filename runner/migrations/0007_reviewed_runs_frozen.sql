-- A reviewed run's files are what the decision was about: once a run is approved or rejected
-- its files and artifact records do not change (`kobo rerun` makes a new run instead).
CREATE TRIGGER run_files_no_insert_after_review BEFORE INSERT ON run_files
WHEN EXISTS (SELECT 1 FROM reviews WHERE run_id = NEW.run_id)
BEGIN SELECT RAISE(ABORT, 'the run was reviewed; its files do not change (kobo rerun makes a new run)'); END;
CREATE TRIGGER run_files_no_update_after_review BEFORE UPDATE ON run_files
WHEN EXISTS (SELECT 1 FROM reviews WHERE run_id = OLD.run_id OR run_id = NEW.run_id)
BEGIN SELECT RAISE(ABORT, 'the run was reviewed; its files do not change (kobo rerun makes a new run)'); END;
CREATE TRIGGER run_files_no_delete_after_review BEFORE DELETE ON run_files
WHEN EXISTS (SELECT 1 FROM reviews WHERE run_id = OLD.run_id)
BEGIN SELECT RAISE(ABORT, 'the run was reviewed; its files do not change (kobo rerun makes a new run)'); END;
CREATE TRIGGER run_artifacts_no_insert_after_review BEFORE INSERT ON run_artifacts
WHEN EXISTS (SELECT 1 FROM reviews WHERE run_id = NEW.run_id)
BEGIN SELECT RAISE(ABORT, 'the run was reviewed; its files do not change (kobo rerun makes a new run)'); END;
CREATE TRIGGER run_artifacts_no_update_after_review BEFORE UPDATE ON run_artifacts
WHEN EXISTS (SELECT 1 FROM reviews WHERE run_id = OLD.run_id OR run_id = NEW.run_id)
BEGIN SELECT RAISE(ABORT, 'the run was reviewed; its files do not change (kobo rerun makes a new run)'); END;
CREATE TRIGGER run_artifacts_no_delete_after_review BEFORE DELETE ON run_artifacts
WHEN EXISTS (SELECT 1 FROM reviews WHERE run_id = OLD.run_id)
BEGIN SELECT RAISE(ABORT, 'the run was reviewed; its files do not change (kobo rerun makes a new run)'); END;
