//! Points in time and calendar dates, without a clock.
//!
//! The core never reads the clock: every operation that records a time takes
//! `now` from its caller, so simulations and tests are deterministic. Times are
//! UTC milliseconds; turning them into a council's local time is the job of the
//! screens and the notifier, which know the time zone.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use serde::{Deserialize, Serialize};

use crate::ids::ParseIdError;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A time from milliseconds since the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Midnight UTC at the start of a date, plus hours and minutes.
    pub fn at(date: Date, hour: u8, minute: u8) -> Self {
        let minutes = i64::from(hour) * 60 + i64::from(minute);
        Self((date.days_since_epoch() * 1440 + minutes) * 60_000)
    }

    /// This time moved by a number of minutes.
    pub const fn plus_minutes(self, minutes: i64) -> Self {
        Self(self.0 + minutes * 60_000)
    }

    /// This time moved by a number of milliseconds.
    pub const fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// The UTC calendar date this time falls on.
    pub fn date(self) -> Date {
        Date::from_days_since_epoch(self.0.div_euclid(86_400_000))
    }

    /// Hours and minutes past UTC midnight.
    pub fn time_of_day(self) -> TimeOfDay {
        let minutes = self.0.rem_euclid(86_400_000) / 60_000;
        // Both fit: minutes < 1440.
        TimeOfDay {
            hour: (minutes / 60) as u8,
            minute: (minutes % 60) as u8,
        }
    }
}

/// Local time in the United Kingdom, where Doorstep's councils are: GMT,
/// or BST (one hour ahead) from 01:00 UTC on the last Sunday of March to
/// 01:00 UTC on the last Sunday of October.
pub mod uk {
    use super::{Date, TimeOfDay, Timestamp};

    const HOUR_MS: i64 = 60 * 60 * 1000;

    /// The last Sunday of a month, at 01:00 UTC.
    fn last_sunday_1am(year: i32, month: u8) -> Timestamp {
        let last = Date::new(year, month, super::days_in_month(year, month)).unwrap_or(Date {
            year,
            month,
            day: 28,
        });
        let days = last.days_since_epoch();
        // 1970-01-01 was a Thursday: (days + 4) % 7 is 0 on Sundays.
        let sunday = days - (days + 4).rem_euclid(7);
        Timestamp::at(Date::from_days_since_epoch(sunday), 1, 0)
    }

    /// Milliseconds local time is ahead of UTC at `at`.
    pub fn offset_millis(at: Timestamp) -> i64 {
        let year = at.date().year();
        if last_sunday_1am(year, 3) <= at && at < last_sunday_1am(year, 10) {
            HOUR_MS
        } else {
            0
        }
    }

    /// The local date and time of day at `at`.
    pub fn local(at: Timestamp) -> (Date, TimeOfDay) {
        let shifted = at.plus_millis(offset_millis(at));
        (shifted.date(), shifted.time_of_day())
    }

    /// The instant the local clock next shows `time` after `at` (today's,
    /// if still ahead; else tomorrow's).
    pub fn next(at: Timestamp, time: TimeOfDay) -> Timestamp {
        let (date, now) = local(at);
        let day = if time > now { date } else { date.succ() };
        self::at(day, time.hour, time.minute)
    }

    /// The instant the local clock shows `hour:minute` on `date`.
    pub fn at(date: Date, hour: u8, minute: u8) -> Timestamp {
        let local = Timestamp::at(date, hour, minute);
        // Local to UTC with the offset in force then.
        local.plus_millis(-offset_millis(local.plus_millis(-HOUR_MS)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} UTC", self.date(), self.time_of_day())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Reconcile for Timestamp {
    type Key<'a> = NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.timestamp(self.0)
    }
}

impl Hydrate for Timestamp {
    fn hydrate_timestamp(millis: i64) -> Result<Self, HydrateError> {
        Ok(Self(millis))
    }
}

/// A calendar date (proleptic Gregorian), written `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// A date, if the day exists.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && (1..=9999).contains(&year);
        valid.then_some(Self { year, month, day })
    }

    /// The year.
    pub const fn year(self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub const fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (Howard Hinnant's days-from-civil algorithm).
    pub fn days_since_epoch(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date a number of days after 1970-01-01 (the inverse of
    /// [`Date::days_since_epoch`]).
    pub fn from_days_since_epoch(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (year_of_era + era * 400 + i64::from(month <= 2)) as i32;
        Self { year, month, day }
    }

    /// The next day.
    pub fn succ(self) -> Self {
        Self::from_days_since_epoch(self.days_since_epoch() + 1)
    }

    /// The day of the week, in English.
    pub fn weekday(self) -> &'static str {
        const DAYS: [&str; 7] = [
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
        ];
        // 1970-01-01 was a Thursday.
        DAYS[self.days_since_epoch().rem_euclid(7) as usize]
    }

    /// The date as residents read it: `Monday 30 November 2026`.
    pub fn in_words(self) -> String {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        format!(
            "{} {} {} {}",
            self.weekday(),
            self.day,
            MONTHS[usize::from(self.month - 1)],
            self.year
        )
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl FromStr for Date {
    type Err = ParseIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let parsed = (|| {
            let bytes = input.as_bytes();
            if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
                return None;
            }
            let year = input.get(0..4)?.parse().ok()?;
            let month = input.get(5..7)?.parse().ok()?;
            let day = input.get(8..10)?.parse().ok()?;
            Date::new(year, month, day)
        })();
        parsed.ok_or_else(|| ParseIdError {
            kind: "date",
            input: input.to_owned(),
            expected: "a date that exists, written YYYY-MM-DD",
        })
    }
}

string_encoded!(Date);

/// A time of day, written `HH:MM` on a 24-hour clock.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    /// The time as residents read it: `8am`, `5:30pm`, `midday`, `midnight`.
    pub fn in_words(self) -> String {
        let (hour, minute) = (self.hour, self.minute);
        match (hour, minute) {
            (0, 0) => "midnight".into(),
            (12, 0) => "midday".into(),
            _ => {
                let suffix = if hour < 12 { "am" } else { "pm" };
                let twelve = match hour % 12 {
                    0 => 12,
                    h => h,
                };
                if minute == 0 {
                    format!("{twelve}{suffix}")
                } else {
                    format!("{twelve}:{minute:02}{suffix}")
                }
            }
        }
    }

    /// A time of day, if valid.
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        (hour < 24 && minute < 60).then_some(Self { hour, minute })
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        u16::from(self.hour) * 60 + u16::from(self.minute)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl fmt::Debug for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeOfDay({self})")
    }
}

impl FromStr for TimeOfDay {
    type Err = ParseIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let parsed = (|| {
            let (hour, minute) = input.split_once(':')?;
            if hour.len() != 2 || minute.len() != 2 {
                return None;
            }
            TimeOfDay::new(hour.parse().ok()?, minute.parse().ok()?)
        })();
        parsed.ok_or_else(|| ParseIdError {
            kind: "time of day",
            input: input.to_owned(),
            expected: "a 24-hour time written HH:MM",
        })
    }
}

string_encoded!(TimeOfDay);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_read_as_residents_write_them() {
        let monday = Date::new(2026, 11, 30).unwrap();
        assert_eq!(monday.in_words(), "Monday 30 November 2026");
        assert_eq!(Date::new(1970, 1, 1).unwrap().weekday(), "Thursday");
        assert_eq!(
            Date::new(2024, 2, 29).unwrap().in_words(),
            "Thursday 29 February 2024"
        );
        let words = |hour, minute| TimeOfDay::new(hour, minute).unwrap().in_words();
        assert_eq!(
            [
                words(8, 0),
                words(12, 0),
                words(17, 30),
                words(0, 0),
                words(0, 5)
            ],
            ["8am", "midday", "5:30pm", "midnight", "12:05am"]
        );
    }

    #[test]
    fn dates_convert_to_and_from_day_numbers_across_leap_years() {
        let mut date = Date::new(1999, 12, 25).unwrap();
        for _ in 0..(366 * 40) {
            let next = date.succ();
            assert_eq!(next.days_since_epoch(), date.days_since_epoch() + 1);
            assert_eq!(Date::from_days_since_epoch(next.days_since_epoch()), next);
            date = next;
        }
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(
            "2024-02-29".parse::<Date>().unwrap().succ().to_string(),
            "2024-03-01"
        );
    }

    #[test]
    fn impossible_dates_and_times_are_refused() {
        assert!("2025-02-29".parse::<Date>().is_err());
        assert!("2025-13-01".parse::<Date>().is_err());
        assert!("25-01-01".parse::<Date>().is_err());
        assert!("24:00".parse::<TimeOfDay>().is_err());
        assert!("8:00".parse::<TimeOfDay>().is_err());
        assert_eq!("20:30".parse::<TimeOfDay>().unwrap().minutes(), 1230);
    }

    #[test]
    fn timestamps_print_as_utc_date_and_time() {
        let date = "2026-11-27".parse::<Date>().unwrap();
        let at = Timestamp::at(date, 9, 5);
        assert_eq!(at.to_string(), "2026-11-27 09:05 UTC");
        assert_eq!(at.date(), date);
        assert_eq!(Timestamp::from_millis(-1).date().to_string(), "1969-12-31");
    }

    #[test]
    fn uk_local_time_follows_british_summer_time() {
        let winter = Timestamp::at("2026-01-15".parse().unwrap(), 21, 30);
        assert_eq!(uk::local(winter).1.to_string(), "21:30");
        let summer = Timestamp::at("2026-07-15".parse().unwrap(), 21, 30);
        assert_eq!(uk::local(summer).1.to_string(), "22:30");
        // 2026: BST from 29 March to 25 October, at 01:00 UTC.
        let before = Timestamp::at("2026-03-29".parse().unwrap(), 0, 59);
        let after = Timestamp::at("2026-03-29".parse().unwrap(), 1, 0);
        assert_eq!(uk::offset_millis(before), 0);
        assert_eq!(uk::offset_millis(after), 3_600_000);
        assert_eq!(
            uk::offset_millis(Timestamp::at("2026-10-25".parse().unwrap(), 1, 0)),
            0
        );
        let eight: TimeOfDay = "08:00".parse().unwrap();
        assert_eq!(
            uk::next(summer, eight),
            Timestamp::at("2026-07-16".parse().unwrap(), 7, 0),
            "08:00 BST is 07:00 UTC"
        );
        assert_eq!(
            uk::next(winter, eight),
            Timestamp::at("2026-01-16".parse().unwrap(), 8, 0)
        );
    }
}
