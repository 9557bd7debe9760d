-- A person is deactivated by one council at a time: their work for it
-- stops (its sessions end, its people lists drop them) while their work
-- for another council goes on. Existing deactivations carry over.
ALTER TABLE user_tenants ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
UPDATE user_tenants SET active = 0 WHERE user_id IN (SELECT id FROM users WHERE active = 0);
UPDATE users SET active = 1;
UPDATE staff_accounts SET active = 1;
