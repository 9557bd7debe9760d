-- People leave: a deactivated user keeps their name on past work, but
-- their devices are refused and nothing new is given to them.
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;

-- When each device last synced, for the back office's device list.
ALTER TABLE devices ADD COLUMN last_sync_at INTEGER;

-- Sign-in throttling: wrong passwords in a row, and until when the account
-- refuses sign-in after too many.
ALTER TABLE staff_accounts ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_accounts ADD COLUMN locked_until INTEGER;
