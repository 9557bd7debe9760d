-- A person is deactivated by one council at a time: their work for it
-- stops (its sessions end, its people lists drop them) while their work
-- for another council goes on. Existing deactivations carry over.
ALTER TABLE user_tenants ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE user_tenants SET active = FALSE WHERE user_id IN (SELECT id FROM users WHERE NOT active);
UPDATE users SET active = TRUE;
UPDATE staff_accounts SET active = TRUE;
