-- Schema version 9: how a job copies a source whose folders are labels (Gmail): 'folders'
-- (each label a folder, the default) or 'one-copy' (each message once, its other labels as
-- keywords). Chosen in the wizard's advanced settings.
ALTER TABLE jobs ADD COLUMN label_policy TEXT NOT NULL DEFAULT 'folders';
