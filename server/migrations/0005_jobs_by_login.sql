-- The public lookup by login (jobs/lookup.rs): a query's candidates are the jobs whose source
-- login, lower-cased, is its local part or bare login, newest first.
CREATE INDEX jobs_by_login ON jobs (lower(source_login), created_at);
