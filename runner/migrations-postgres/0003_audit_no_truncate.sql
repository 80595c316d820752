-- TRUNCATE skips row triggers: the audit log refuses it with a statement-level trigger.
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
FOR EACH STATEMENT EXECUTE FUNCTION kobo_audit_append_only();
