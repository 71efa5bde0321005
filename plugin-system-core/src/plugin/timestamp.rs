//! [`Timestamp`]: a UTC instant written as Dart's `DateTime.toIso8601String()` does.

use std::{
    fmt,
    str::FromStr,
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// An instant in UTC with microsecond precision: Dart's `DateTime`.
///
/// On the wire it is an ISO-8601 string, written as Dart writes a UTC
/// `DateTime`: `2025-11-18T10:00:00.000Z`, with three more digits when the
/// microseconds are not zero (`2025-11-18T10:00:00.123456Z`). Years outside
/// `-9999..=9999` take a sign and six digits (`+010000-01-01T00:00:00.000Z`).
///
/// Parsing accepts what Dart's `DateTime.parse` accepts:
/// - a date alone (`2025-11-18`) or with a time, after `T` or a space;
/// - minutes and seconds optional, colons and dashes optional (`20251118T1000`);
/// - any number of fractional digits after `.` or `,` (digits past the sixth are
///   dropped, as Dart drops them);
/// - a zone `Z`/`z`, or an offset `+02:00`, `+0200` or `+02`;
/// - **no zone at all, which is read as UTC** (Dart would read local time; a
///   host has no business guessing a guest's time zone).
///
/// Fields out of range (month 13, 25 o'clock) are refused rather than rolled
/// over as Dart would.
///
/// ```
/// use plugin_system_core::Timestamp;
///
/// let t: Timestamp = "2025-11-18T12:00:00.5+02:00".parse()?;
/// assert_eq!(t.to_string(), "2025-11-18T10:00:00.500Z");
/// assert_eq!(Timestamp::from_micros(1).to_string(), "1970-01-01T00:00:00.000001Z");
/// # Ok::<(), plugin_system_core::TimestampParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { micros: 0 };

    /// The instant `micros` microseconds after (or before, if negative) the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp { micros }
    }

    /// The instant `millis` milliseconds after the Unix epoch; `None` if that is
    /// out of range (beyond about 292,000 years).
    pub const fn from_millis(millis: i64) -> Option<Self> {
        match millis.checked_mul(1000) {
            Some(micros) => Some(Timestamp { micros }),
            None => None,
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.micros
    }

    /// Milliseconds since the Unix epoch, rounded towards the past.
    pub const fn as_millis(self) -> i64 {
        self.micros.div_euclid(1000)
    }

    /// The current time, from the system clock.
    pub fn now() -> Self {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// The instant of a [`SystemTime`], saturating beyond the range of
    /// [`Timestamp`] and truncated to microseconds.
    pub fn from_system_time(time: SystemTime) -> Self {
        let micros = match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |m| -m),
        };
        Timestamp { micros }
    }

    /// The same instant as a [`SystemTime`], `None` when the platform's
    /// `SystemTime` cannot hold it (a timestamp from a guest can be anything).
    pub fn to_system_time(self) -> Option<SystemTime> {
        let magnitude = Duration::from_micros(self.micros.unsigned_abs());
        if self.micros >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(magnitude)
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(magnitude)
        }
    }

    /// Parses an ISO-8601 date-time as Dart's `DateTime.parse` does (see the
    /// type's documentation for the accepted forms).
    ///
    /// # Errors
    ///
    /// [`TimestampParseError`] if the text is not such a date-time, a field is
    /// out of range, or the instant is beyond the range of `Timestamp`.
    pub fn parse(text: &str) -> Result<Self, TimestampParseError> {
        parse(text.as_bytes()).map_err(|reason| TimestampParseError::new(text, reason))
    }
}

/// The longest text [`Timestamp::format`] writes:
/// `-292277-01-09T04:00:54.775808Z`.
const MAX_TEXT: usize = 32;

/// A formatted [`Timestamp`] on the stack: serializers write it without the
/// formatting machinery or an allocation.
struct Formatted {
    bytes: [u8; MAX_TEXT],
    len: usize,
}

impl Formatted {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value` in exactly `width` decimal digits (`value < 10^width`).
    fn digits(&mut self, mut value: u64, width: usize) {
        for i in (0..width).rev() {
            self.bytes[self.len + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += width;
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation were pushed.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl Timestamp {
    /// The text Dart's `toIso8601String()` writes for a UTC `DateTime`.
    fn format(self) -> Formatted {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let of_day = self.micros.rem_euclid(MICROS_PER_DAY).unsigned_abs();
        let (year, month, day) = civil_from_days(days);
        let seconds = of_day / MICROS_PER_SECOND.unsigned_abs();
        let micros = of_day % MICROS_PER_SECOND.unsigned_abs();
        let mut out = Formatted {
            bytes: [0; MAX_TEXT],
            len: 0,
        };
        if (-9999..=9999).contains(&year) {
            if year < 0 {
                out.push(b'-');
            }
            out.digits(year.unsigned_abs(), 4);
        } else {
            out.push(if year < 0 { b'-' } else { b'+' });
            out.digits(year.unsigned_abs(), 6);
        }
        out.push(b'-');
        out.digits(u64::from(month), 2);
        out.push(b'-');
        out.digits(u64::from(day), 2);
        out.push(b'T');
        out.digits(seconds / 3600, 2);
        out.push(b':');
        out.digits(seconds / 60 % 60, 2);
        out.push(b':');
        out.digits(seconds % 60, 2);
        out.push(b'.');
        out.digits(micros / 1000, 3);
        if !micros.is_multiple_of(1000) {
            out.digits(micros % 1000, 3);
        }
        out.push(b'Z');
        out
    }
}

impl fmt::Display for Timestamp {
    /// Writes the form Dart's `toIso8601String()` writes for a UTC `DateTime`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format().as_str())
    }
}

impl FromStr for Timestamp {
    type Err = TimestampParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl TryFrom<Timestamp> for SystemTime {
    type Error = TimestampParseError;

    fn try_from(t: Timestamp) -> Result<Self, Self::Error> {
        t.to_system_time().ok_or_else(|| {
            TimestampParseError::new(
                &t.to_string(),
                "beyond what this platform's SystemTime holds",
            )
        })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.format().as_str())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;

        impl de::Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO-8601 date-time string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(TimestampVisitor)
    }
}

/// A string that is not an ISO-8601 date-time [`Timestamp`] accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp `{input}`: {reason}")]
pub struct TimestampParseError {
    input: String,
    reason: &'static str,
}

impl TimestampParseError {
    /// How much of the input an error quotes.
    const QUOTED_CHARS: usize = 64;

    fn new(input: &str, reason: &'static str) -> Self {
        let mut quoted: String = input.chars().take(Self::QUOTED_CHARS).collect();
        if quoted.len() < input.len() {
            quoted.push('…');
        }
        TimestampParseError {
            input: quoted,
            reason,
        }
    }

    /// What is wrong with the input.
    pub fn reason(&self) -> &str {
        self.reason
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over the ASCII input.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_any(&mut self, set: &[u8]) -> Option<u8> {
        let byte = self.peek().filter(|b| set.contains(b))?;
        self.pos += 1;
        Some(byte)
    }

    fn digit_at(&self, offset: usize) -> bool {
        self.bytes
            .get(self.pos + offset)
            .is_some_and(u8::is_ascii_digit)
    }

    /// Exactly two digits.
    fn two_digits(&mut self, what: &'static str) -> Result<u32, &'static str> {
        if self.digit_at(0) && self.digit_at(1) {
            let value = u32::from(self.bytes[self.pos] - b'0') * 10
                + u32::from(self.bytes[self.pos + 1] - b'0');
            self.pos += 2;
            Ok(value)
        } else {
            Err(what)
        }
    }

    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Dart's grammar:
/// `[+-]?\d{4,6} -?\d\d -?\d\d ([ T]\d\d (:?\d\d (:?\d\d ([.,]\d+)?)?)? ( ?[zZ] | ?[+-]\d\d(:?\d\d)?)?)?`.
/// The year takes as many digits as leave a valid rest, trying 6, 5, then 4, as
/// the regular expression's backtracking does.
fn parse(input: &[u8]) -> Result<Timestamp, &'static str> {
    let (negative, digits_from) = match input.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let run = input[digits_from..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if run < 4 {
        return Err("expected a year of 4 to 6 digits");
    }
    let mut error = "invalid date";
    for year_len in (4..=run.min(6)).rev() {
        let year_digits = &input[digits_from..digits_from + year_len];
        let magnitude = year_digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        let year = if negative { -magnitude } else { magnitude };
        let mut cursor = Cursor {
            bytes: input,
            pos: digits_from + year_len,
        };
        match parse_after_year(year, &mut cursor) {
            Ok(t) => return Ok(t),
            Err(e) => error = e,
        }
    }
    Err(error)
}

fn parse_after_year(year: i64, c: &mut Cursor<'_>) -> Result<Timestamp, &'static str> {
    c.eat(b'-');
    let month = c.two_digits("expected a two-digit month")?;
    c.eat(b'-');
    let day = c.two_digits("expected a two-digit day")?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0i64);
    let mut offset_minutes = 0i64;
    if c.eat_any(b"T ").is_some() {
        hour = c.two_digits("expected a two-digit hour")?;
        let colon = c.eat(b':');
        if colon || c.digit_at(0) {
            minute = c.two_digits("expected two-digit minutes")?;
            let colon = c.eat(b':');
            if colon || c.digit_at(0) {
                second = c.two_digits("expected two-digit seconds")?;
                if c.eat_any(b".,").is_some() {
                    let start = c.pos;
                    while c.digit_at(0) {
                        c.pos += 1;
                    }
                    let fraction = &c.bytes[start..c.pos];
                    if fraction.is_empty() {
                        return Err("expected digits after the decimal separator");
                    }
                    micros = (0..6).fold(0i64, |acc, i| {
                        acc * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'))
                    });
                }
            }
        }
        if c.peek() == Some(b' ')
            && matches!(c.bytes.get(c.pos + 1), Some(b'z' | b'Z' | b'+' | b'-'))
        {
            c.pos += 1;
        }
        if c.eat_any(b"zZ").is_none()
            && let Some(sign) = c.eat_any(b"+-")
        {
            let hours = c.two_digits("expected a two-digit offset hour")?;
            c.eat(b':');
            let minutes = if c.digit_at(0) {
                c.two_digits("expected two-digit offset minutes")?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return Err("offset out of range");
            }
            let total = i64::from(hours * 60 + minutes);
            offset_minutes = if sign == b'-' { -total } else { total };
        }
    }
    if !c.at_end() {
        return Err("unexpected characters after the date-time");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time out of range");
    }
    let seconds_of_day = i64::from(hour * 3600 + minute * 60 + second) - offset_minutes * 60;
    let micros = i128::from(days_from_civil(year, month, day)) * i128::from(MICROS_PER_DAY)
        + i128::from(seconds_of_day) * i128::from(MICROS_PER_SECOND)
        + i128::from(micros);
    i64::try_from(micros)
        .map(Timestamp::from_micros)
        .map_err(|_| "date out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn formats_like_dart() {
        assert_eq!(
            Timestamp::UNIX_EPOCH.to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        let t = ts("2025-11-18T10:00:00.000Z");
        assert_eq!(t.as_micros(), 1_763_460_000_000_000);
        assert_eq!(t.to_string(), "2025-11-18T10:00:00.000Z");
        assert_eq!(
            Timestamp::from_micros(t.as_micros() + 123_000).to_string(),
            "2025-11-18T10:00:00.123Z"
        );
        assert_eq!(
            Timestamp::from_micros(t.as_micros() + 123_456).to_string(),
            "2025-11-18T10:00:00.123456Z"
        );
        assert_eq!(
            Timestamp::from_micros(-1).to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn formats_extreme_years_like_dart() {
        assert_eq!(
            ts("0000-01-01T00:00:00Z").to_string(),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            ts("-0001-01-01T00:00:00Z").to_string(),
            "-0001-01-01T00:00:00.000Z"
        );
        assert_eq!(
            ts("+010000-01-01T00:00:00Z").to_string(),
            "+010000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            ts("-010000-03-01T00:00:00Z").to_string(),
            "-010000-03-01T00:00:00.000Z"
        );
        // The whole range formats and parses back.
        for micros in [i64::MIN, i64::MAX, i64::MIN / 3, i64::MAX / 7] {
            let t = Timestamp::from_micros(micros);
            assert_eq!(ts(&t.to_string()), t, "{t}");
        }
    }

    #[test]
    fn parses_dart_forms() {
        let base = ts("2025-11-18T10:00:00.000Z");
        for text in [
            "2025-11-18T10:00:00Z",
            "2025-11-18T10:00:00.000000Z",
            "2025-11-18T10:00:00.000",
            "2025-11-18T10:00:00",
            "2025-11-18 10:00:00z",
            "2025-11-18T10:00Z",
            "2025-11-18T10Z",
            "20251118T100000Z",
            "2025-11-18T12:00:00.000+02:00",
            "2025-11-18T12:00:00+0200",
            "2025-11-18T12:00:00+02",
            "2025-11-18T12:00:00 +02:00",
            "2025-11-18T07:30:00.000-02:30",
            "+002025-11-18T10:00:00.000Z",
            "002025-11-18T10:00:00.000Z",
        ] {
            assert_eq!(ts(text), base, "{text}");
        }
        assert_eq!(ts("2025-11-18").to_string(), "2025-11-18T00:00:00.000Z");
        assert_eq!(
            ts("2025-11-18T10:00:00,5Z").as_micros() - base.as_micros(),
            500_000
        );
        // Digits past the sixth are dropped.
        assert_eq!(
            ts("2025-11-18T10:00:00.1234567Z").as_micros() - base.as_micros(),
            123_456
        );
        assert_eq!(
            ts("2024-02-29T00:00:00Z").to_string(),
            "2024-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn refuses_invalid_text() {
        for text in [
            "",
            "2025",
            "25-11-18",
            "2025-13-01",
            "2025-00-01",
            "2025-02-29",
            "2025-11-31",
            "2025-11-18T24:00:00Z",
            "2025-11-18T10:60:00Z",
            "2025-11-18T10:00:61Z",
            "2025-11-18T10:00:00.Z",
            "2025-11-18T10:00:00+24:00",
            "2025-11-18T10:00:00ZZ",
            "2025-11-18T10:00:00 ",
            "2025-11-18Z",
            "2025-11-18T1",
            "1234567-01-01",
            "+999999-12-31T23:59:59Z",
            "２０２５-11-18",
            "2025-11-18T10:00:00.000Z\n",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn error_quotes_the_input() {
        let err = Timestamp::parse("yesterday").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid timestamp `yesterday`: expected a year of 4 to 6 digits"
        );
        let long = "x".repeat(1000);
        assert!(Timestamp::parse(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn civil_round_trips() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
        }
    }

    #[test]
    fn millis_and_system_time() {
        let t = Timestamp::from_millis(1_500).unwrap();
        assert_eq!(t.as_micros(), 1_500_000);
        assert_eq!(Timestamp::from_micros(-1).as_millis(), -1);
        assert_eq!(Timestamp::from_millis(i64::MAX), None);
        assert_eq!(Timestamp::from_system_time(t.to_system_time().unwrap()), t);
        let before = Timestamp::from_micros(-2_000_001);
        assert_eq!(
            Timestamp::from_system_time(before.to_system_time().unwrap()),
            before
        );
        // The extremes never panic, whatever the platform holds.
        for extreme in [i64::MIN, i64::MAX] {
            let t = Timestamp::from_micros(extreme);
            if let Some(time) = t.to_system_time() {
                assert_eq!(Timestamp::from_system_time(time), t);
            }
            let _ = SystemTime::try_from(t);
        }
        assert!(Timestamp::now() > ts("2020-01-01"));
    }
}
