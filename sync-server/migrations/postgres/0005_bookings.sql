-- Booked half-days: one row per job whose appointment the server booked,
-- counted against a capacity per crew (a team, or an operative working
-- alone) and half-day. Only the server writes appointments, from here.
CREATE TABLE bookings (
    job       TEXT PRIMARY KEY,
    tenant    TEXT NOT NULL,
    crew      TEXT NOT NULL,
    day       TEXT NOT NULL,
    half      TEXT NOT NULL CHECK (half IN ('am', 'pm')),
    booked_at BIGINT NOT NULL
);

CREATE INDEX bookings_by_slot ON bookings(tenant, crew, day, half);
