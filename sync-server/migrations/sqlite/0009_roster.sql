-- People leave: a deactivated user keeps their name on past work, but
-- their devices are refused and nothing new is given to them.
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;

-- When each device last synced, for the back office's device list.
ALTER TABLE devices ADD COLUMN last_sync_at INTEGER;
