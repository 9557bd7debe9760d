//! Appointment slots: half-days, Monday to Friday, morning 08:00–12:00 and
//! afternoon 12:00–17:00 in UK local time. The server books them (the
//! appointment fields are the server's alone) against a capacity per team
//! and half-day; this module only names and places them.

use std::fmt;
use std::str::FromStr;

use crate::job::Appointment;
use crate::time::{Date, TimeOfDay, Timestamp, uk};

/// Morning or afternoon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Half {
    /// 08:00–12:00.
    Morning,
    /// 12:00–17:00.
    Afternoon,
}

impl Half {
    fn hours(self) -> (u8, u8) {
        match self {
            Half::Morning => (8, 12),
            Half::Afternoon => (12, 17),
        }
    }

    /// `am` or `pm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Half::Morning => "am",
            Half::Afternoon => "pm",
        }
    }
}

/// One bookable half-day, written `2026-11-30-am`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HalfDay {
    /// The day.
    pub date: Date,
    /// Morning or afternoon.
    pub half: Half,
}

/// A half-day that cannot be booked, or text that names none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// Not `YYYY-MM-DD-am` or `-pm`.
    #[error("{0:?} is not a half-day: write it as 2026-11-30-am or 2026-11-30-pm")]
    Malformed(String),
    /// A Saturday or Sunday.
    #[error("{0} is at a weekend: appointments are Monday to Friday")]
    Weekend(HalfDay),
    /// Started already.
    #[error("{0} has already started")]
    Past(HalfDay),
}

impl HalfDay {
    /// The appointment it books: its start and end as instants.
    pub fn appointment(self) -> Appointment {
        let (from, to) = self.half.hours();
        let at = |hour: u8| {
            let local = Timestamp::at(self.date, hour, 0);
            // The offset in force an hour before is the one at the hour
            // itself: the clocks change at 01:00 UTC, outside slots.
            local.plus_millis(-uk::offset_millis(local.plus_minutes(-60)))
        };
        Appointment {
            starts: at(from),
            ends: at(to),
        }
    }

    /// Whether it can be booked at `now`: a weekday, not started yet.
    pub fn check(self, now: Timestamp) -> Result<Self, SlotError> {
        // 1970-01-01 was a Thursday: (days + 4) % 7 is 0 on Sundays, 6 on
        // Saturdays.
        if matches!((self.date.days_since_epoch() + 4).rem_euclid(7), 0 | 6) {
            return Err(SlotError::Weekend(self));
        }
        if self.appointment().starts <= now {
            return Err(SlotError::Past(self));
        }
        Ok(self)
    }

    /// The bookable half-days of the next `days` days from `now`, in order.
    pub fn upcoming(now: Timestamp, days: i64) -> Vec<HalfDay> {
        let (today, _) = uk::local(now);
        (0..days)
            .map(|n| Date::from_days_since_epoch(today.days_since_epoch() + n))
            .flat_map(|date| [Half::Morning, Half::Afternoon].map(|half| HalfDay { date, half }))
            .filter(|slot| slot.check(now).is_ok())
            .collect()
    }

    /// The half-day an appointment starts in, if it is one of these slots.
    pub fn of(appointment: Appointment) -> Option<HalfDay> {
        let (date, time) = uk::local(appointment.starts);
        let half = match time {
            t if t == TimeOfDay::new(8, 0)? => Half::Morning,
            t if t == TimeOfDay::new(12, 0)? => Half::Afternoon,
            _ => return None,
        };
        Some(HalfDay { date, half })
    }
}

impl fmt::Display for HalfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.date, self.half.as_str())
    }
}

impl FromStr for HalfDay {
    type Err = SlotError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || SlotError::Malformed(text.to_owned());
        let (date, half) = text.rsplit_once('-').ok_or_else(malformed)?;
        let half = match half {
            "am" => Half::Morning,
            "pm" => Half::Afternoon,
            _ => return Err(malformed()),
        };
        Ok(HalfDay {
            date: date.parse().map_err(|_| malformed())?,
            half,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_day_reads_back_and_books_its_hours_in_uk_time() {
        let monday: HalfDay = "2026-11-30-am".parse().unwrap();
        assert_eq!(monday.to_string(), "2026-11-30-am");
        let slot = monday.appointment();
        assert_eq!(
            slot.starts,
            Timestamp::at("2026-11-30".parse().unwrap(), 8, 0)
        );
        assert_eq!(
            slot.ends,
            Timestamp::at("2026-11-30".parse().unwrap(), 12, 0)
        );
        let summer: HalfDay = "2026-07-01-pm".parse().unwrap();
        assert_eq!(
            summer.appointment().starts,
            Timestamp::at("2026-07-01".parse().unwrap(), 11, 0),
            "12:00 BST is 11:00 UTC"
        );
        assert_eq!(HalfDay::of(summer.appointment()), Some(summer));
        for bad in ["2026-11-30", "2026-11-30-noon", "30/11/2026-am", ""] {
            assert!(bad.parse::<HalfDay>().is_err(), "{bad}");
        }
    }

    #[test]
    fn weekends_and_started_half_days_cannot_be_booked() {
        // Friday 27 November 2026, 07:50 UTC.
        let now = Timestamp::from_millis(1_795_765_800_000);
        let saturday: HalfDay = "2026-11-28-am".parse().unwrap();
        assert_eq!(saturday.check(now), Err(SlotError::Weekend(saturday)));
        let this_morning: HalfDay = "2026-11-27-am".parse().unwrap();
        assert!(this_morning.check(now).is_ok(), "starts at 08:00");
        assert!(this_morning.check(now.plus_minutes(10)).is_err());
        let upcoming = HalfDay::upcoming(now, 4);
        let names: Vec<String> = upcoming.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "2026-11-27-am",
                "2026-11-27-pm",
                "2026-11-30-am",
                "2026-11-30-pm"
            ]
        );
    }
}
