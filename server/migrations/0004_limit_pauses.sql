-- Pauses a job took for a provider's daily limit (Gmail's "Account exceeded command or
-- bandwidth limits"): each one waits longer than the one before. Such a pause is not an attempt.
ALTER TABLE jobs ADD COLUMN limit_pauses INTEGER NOT NULL DEFAULT 0;
