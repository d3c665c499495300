//! Signed durations as scenarios and `adsim ctl clock --advance` write them: `30d`, `10h05m`,
//! `-6m`, `+4m`, `2w`, `90s`, `0`; for `adsim ctl`, a bare number is seconds (`45`).

/// Seconds in each unit a duration may use.
const UNITS: [(char, i64); 5] = [('w', 7 * 86_400), ('d', 86_400), ('h', 3600), ('m', 60), ('s', 1)];

/// What a number without a unit means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareNumber {
    /// Refused (scenarios): `5` is an error, `0` alone is zero.
    Refused,
    /// Seconds (`adsim ctl clock --advance 45`).
    Seconds,
}

/// Why a text is not a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationErrorKind {
    /// A character that is neither a digit nor one of w, d, h, m, s.
    UnknownUnit,
    /// Empty, a unit without a number, units out of order or repeated, a number without a unit.
    Malformed,
    /// More seconds than fit in an `i64`.
    TooLarge,
}

/// A refused duration text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    pub text: String,
    pub kind: DurationErrorKind,
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not a duration like 30d, 10h05m, -6m or 90s",
            self.text
        )
    }
}

impl std::error::Error for DurationError {}

/// Parses a signed duration into seconds: an optional sign, then one or more `<number><unit>`
/// groups (units w, d, h, m, s, each at most once, largest first). `0` alone is zero.
pub fn parse_seconds(text: &str) -> Result<i64, String> {
    parse_duration(text, BareNumber::Refused).map_err(|e| e.to_string())
}

/// [`parse_seconds`]' grammar; `bare` says whether a number alone (`45`, `-6`) is seconds.
pub fn parse_duration(text: &str, bare: BareNumber) -> Result<i64, DurationError> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest == "0" {
        return Ok(0);
    }
    let err = |kind| DurationError {
        text: text.to_string(),
        kind,
    };
    if bare == BareNumber::Seconds && !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = rest.parse().map_err(|_| err(DurationErrorKind::Malformed))?;
        return Ok(sign * n);
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut last_unit = usize::MAX;
    let mut groups = 0;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let idx = UNITS
            .iter()
            .position(|(u, _)| *u == c)
            .ok_or_else(|| err(DurationErrorKind::UnknownUnit))?;
        // Units in decreasing order, each once: "1h30m", not "30m1h" or "1h1h".
        if number.is_empty() || (last_unit != usize::MAX && idx <= last_unit) {
            return Err(err(DurationErrorKind::Malformed));
        }
        let n: i64 = number.parse().map_err(|_| err(DurationErrorKind::Malformed))?;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err(DurationErrorKind::TooLarge))?;
        number.clear();
        last_unit = idx;
        groups += 1;
    }
    if groups == 0 || !number.is_empty() {
        return Err(err(DurationErrorKind::Malformed));
    }
    Ok(sign * total)
}

/// Seconds as the shortest duration text: `30d`, `29d23h55m`, `-6m`, `0`.
pub fn format_seconds(secs: i64) -> String {
    if secs == 0 {
        return "0".into();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut rest = secs.unsigned_abs();
    // Weeks are left out: "14d" reads better than "2w" in interval reports.
    for (unit, size) in UNITS.iter().skip(1) {
        let size = *size as u64;
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// 100 ns ticks (the managed password blob's intervals) as a duration text; a remainder below
/// one second is shown in milliseconds.
pub fn format_ticks(ticks: u64) -> String {
    let secs = ticks / 10_000_000;
    let sub_ms = (ticks % 10_000_000) / 10_000;
    let base = format_seconds(i64::try_from(secs).unwrap_or(i64::MAX));
    match (secs, sub_ms) {
        (_, 0) => base,
        (0, ms) => format!("{ms}ms"),
        (_, ms) => format!("{base}{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_seconds("30d"), Ok(30 * 86_400));
        assert_eq!(parse_seconds("10h05m"), Ok(36_300));
        assert_eq!(parse_seconds("-6m"), Ok(-360));
        assert_eq!(parse_seconds("+4m"), Ok(240));
        assert_eq!(parse_seconds("2w"), Ok(14 * 86_400));
        assert_eq!(parse_seconds("90s"), Ok(90));
        assert_eq!(parse_seconds("0"), Ok(0));
        assert_eq!(parse_seconds("1d2h3m4s"), Ok(86_400 + 7200 + 180 + 4));
    }

    /// `adsim ctl clock --advance`: the same forms, and a bare number is seconds.
    #[test]
    fn ctl_forms_with_bare_seconds() {
        let ctl = |t: &str| parse_duration(t, BareNumber::Seconds);
        assert_eq!(ctl("30d"), Ok(30 * 86_400));
        assert_eq!(ctl("12h"), Ok(43_200));
        assert_eq!(ctl("300s"), Ok(300));
        assert_eq!(ctl("-6m"), Ok(-360));
        assert_eq!(ctl("+6m"), Ok(360));
        assert_eq!(ctl("2w"), Ok(14 * 86_400));
        assert_eq!(ctl("45"), Ok(45));
        assert_eq!(ctl("-45"), Ok(-45));
        assert_eq!(ctl("10h05m"), Ok(36_300));
        assert_eq!(ctl("0"), Ok(0));
        for bad in ["", "d", "6y", "1.5h", "--6m", "99999999999999999999d"] {
            assert!(ctl(bad).is_err(), "{bad:?}");
        }
        let kind = |t: &str| ctl(t).unwrap_err().kind;
        assert_eq!(kind("5y"), DurationErrorKind::UnknownUnit);
        assert_eq!(kind("1.5h"), DurationErrorKind::UnknownUnit);
        assert_eq!(kind("d"), DurationErrorKind::Malformed);
        assert_eq!(kind("1m1h"), DurationErrorKind::Malformed);
        assert_eq!(kind("99999999999999999999"), DurationErrorKind::Malformed);
        assert_eq!(kind("9999999999999999w"), DurationErrorKind::TooLarge);
    }

    #[test]
    fn refuses_malformed_durations() {
        for bad in [
            "",
            "d",
            "5",
            "5x",
            "1m1h",
            "1h1h",
            "--5m",
            "99999999999999999999d",
            "5m-",
        ] {
            assert!(parse_seconds(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in [
            0,
            1,
            59,
            60,
            3600,
            36_300,
            86_400 * 29 + 23 * 3600 + 55 * 60,
            -360,
        ] {
            assert_eq!(parse_seconds(&format_seconds(s)), Ok(s), "{s}");
        }
        assert_eq!(format_seconds(30 * 86_400), "30d");
        assert_eq!(format_ticks(25_920_000_000_000), "30d");
        assert_eq!(format_ticks(15_000_000), "1s500ms");
    }
}
