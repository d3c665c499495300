//! String(Generalized-Time) and String(UTC-Time) values (RFC 4517 3.3.13 and 3.3.34). AD stores
//! these times to the second (MS-ADTS 3.1.1.2.2.2: a DSTIME is whole seconds since 1601), so a
//! parsed time is a count of seconds and fractions are dropped.

/// Seconds since 0001-01-01T00:00:00Z of the proleptic Gregorian calendar.
pub type Seconds = i64;

/// AD's earliest representable time: 1601-01-01 (the NTTIME epoch).
const MIN_YEAR: i64 = 1601;
const MAX_YEAR: i64 = 9999;

/// `YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|(+|-)HH[MM])`.
pub fn parse_generalized_time(text: &str) -> Result<Seconds, &'static str> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4).ok_or("bad year")?;
    let month = digits(b, 4, 2).ok_or("bad month")?;
    let day = digits(b, 6, 2).ok_or("bad day")?;
    let hour = digits(b, 8, 2).ok_or("bad hour")?;
    let mut pos = 10;
    // Minutes and seconds are optional; a fraction applies to the last unit present.
    let mut unit = 3600;
    let mut minute = 0;
    let mut second = 0;
    if let Some(m) = digits(b, pos, 2) {
        minute = m;
        pos += 2;
        unit = 60;
        if let Some(s) = digits(b, pos, 2) {
            second = s;
            pos += 2;
            unit = 1;
        }
    }
    let mut fraction_seconds = 0;
    if matches!(b.get(pos), Some(b'.') | Some(b',')) {
        pos += 1;
        let start = pos;
        while matches!(b.get(pos), Some(c) if c.is_ascii_digit()) {
            pos += 1;
        }
        if pos == start {
            return Err("empty fraction");
        }
        // Whole seconds of the fraction of `unit` (sub-second parts are dropped, as AD does).
        let mut scaled: i64 = 0;
        let mut denominator: i64 = 1;
        for &d in &b[start..pos.min(start + 12)] {
            scaled = scaled * 10 + i64::from(d - b'0');
            denominator *= 10;
        }
        fraction_seconds = scaled * unit / denominator;
    }
    let offset = parse_zone(&b[pos..])?;
    let base = civil_seconds(year, month, day, hour, minute, second)?;
    let utc = base + fraction_seconds - offset;
    check_range(utc)?;
    Ok(utc)
}

/// `YYMMDDHHMM[SS](Z|(+|-)HHMM)`; years 50–99 are 19xx and 00–49 are 20xx (RFC 5280 4.1.2.5.1).
pub fn parse_utc_time(text: &str) -> Result<Seconds, &'static str> {
    let b = text.as_bytes();
    let yy = digits(b, 0, 2).ok_or("bad year")?;
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    let month = digits(b, 2, 2).ok_or("bad month")?;
    let day = digits(b, 4, 2).ok_or("bad day")?;
    let hour = digits(b, 6, 2).ok_or("bad hour")?;
    let minute = digits(b, 8, 2).ok_or("bad minute")?;
    let mut pos = 10;
    let mut second = 0;
    if let Some(s) = digits(b, pos, 2) {
        second = s;
        pos += 2;
    }
    let zone = &b[pos..];
    if zone.len() == 3 {
        return Err("UTC-Time offsets need hours and minutes");
    }
    let offset = parse_zone(zone)?;
    Ok(civil_seconds(year, month, day, hour, minute, second)? - offset)
}

/// AD's canonical output form, e.g. `20220217140312.0Z`.
pub fn format_generalized_time(t: Seconds) -> String {
    let (y, mo, d, h, mi, s) = civil_from_seconds(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}.0Z")
}

/// Canonical UTC-Time, e.g. `220217140312Z`.
pub fn format_utc_time(t: Seconds) -> String {
    let (y, mo, d, h, mi, s) = civil_from_seconds(t);
    format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y.rem_euclid(100))
}

fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let slice = b.get(at..at + len)?;
    if !slice.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(slice.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

/// `Z` or `(+|-)HH[MM]`, as seconds east of UTC.
fn parse_zone(zone: &[u8]) -> Result<i64, &'static str> {
    match zone.first() {
        Some(b'Z') if zone.len() == 1 => Ok(0),
        Some(&sign @ (b'+' | b'-')) if zone.len() == 3 || zone.len() == 5 => {
            let hours = digits(zone, 1, 2).ok_or("bad zone hours")?;
            let minutes = if zone.len() == 5 {
                digits(zone, 3, 2).ok_or("bad zone minutes")?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return Err("zone offset out of range");
            }
            let offset = hours * 3600 + minutes * 60;
            Ok(if sign == b'-' { -offset } else { offset })
        }
        _ => Err("missing or bad time zone (need Z or +HHMM/-HHMM)"),
    }
}

fn check_range(t: Seconds) -> Result<(), &'static str> {
    let year = civil_from_seconds(t).0;
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(())
    } else {
        Err("time outside 1601–9999")
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Validates the fields and counts seconds from 0001-01-01.
fn civil_seconds(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Result<Seconds, &'static str> {
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    // Second 60 is a leap second (RFC 4517); it folds into the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range");
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 0001-01-01 (H. Hinnant's civil-date algorithm, shifted to year 1).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 306 // 0000-03-01 is day -306 from 0001-01-01
}

fn civil_from_seconds(t: Seconds) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let rem = t.rem_euclid(86_400);
    let z = days + 306;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for t in [0, 86_399, 86_400, 50_000_000_000, 63_000_000_000, 315_537_897_599] {
            let (y, mo, d, h, mi, s) = civil_from_seconds(t);
            assert_eq!(civil_seconds(y, mo, d, h, mi, s), Ok(t), "{t}");
        }
        assert_eq!(days_from_civil(1, 1, 1), 0);
        assert_eq!(days_from_civil(1601, 1, 1), 584_388);
    }
}
