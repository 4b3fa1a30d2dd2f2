//! Dates and numbers as the user reads them (the labels of the API's enums are theirs, in
//! `portal_types`). Times are shown in the browser's time zone
//! through `Intl` (no time-zone tables in the WebAssembly file).

use chrono::{DateTime, Utc};
use leptos::wasm_bindgen::JsValue;
use leptos::web_sys::js_sys::{Date, Object, Reflect};

/// Milliseconds since the epoch, now (the browser's clock; `Utc::now` is not available in WASM).
pub fn now_ms() -> i64 {
    Date::now() as i64
}

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(now_ms()).unwrap_or_default()
}

fn js_date(at: DateTime<Utc>) -> Date {
    Date::new(&JsValue::from_f64(at.timestamp_millis() as f64))
}

fn options(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o
}

/// RFC 3339 in UTC with milliseconds, e.g. "2025-03-12T14:05:00.000Z" (for `datetime` and the API).
pub fn iso(at: DateTime<Utc>) -> String {
    js_date(at).to_iso_string().into()
}

/// RFC 3339 of a moment given in milliseconds since the epoch.
pub fn iso_ms(ms: i64) -> String {
    Date::new(&JsValue::from_f64(ms as f64)).to_iso_string().into()
}

/// e.g. "12 Mar 2025".
pub fn date(at: DateTime<Utc>) -> String {
    js_date(at)
        .to_locale_date_string("en-GB", &options(&[("day", "numeric"), ("month", "short"), ("year", "numeric")]))
        .into()
}

/// e.g. "12 Mar 2025, 14:05".
pub fn date_time(at: DateTime<Utc>) -> String {
    js_date(at)
        .to_locale_string(
            "en-GB",
            &options(&[
                ("day", "numeric"),
                ("month", "short"),
                ("year", "numeric"),
                ("hour", "2-digit"),
                ("minute", "2-digit"),
            ]),
        )
        .into()
}

/// A chart axis label: "14:05" for minutes and hours ("7 Dec 14:05" with `dated`), "12 Mar"
/// for days. In the reader's time zone, like every time shown.
pub fn axis_label(at: DateTime<Utc>, granularity: portal_types::Granularity, dated: bool) -> String {
    if granularity == portal_types::Granularity::Day {
        return short_day(at);
    }
    let time: String = js_date(at)
        .to_locale_time_string_with_options("en-GB", &options(&[("hour", "2-digit"), ("minute", "2-digit")]))
        .into();
    if dated { format!("{} {time}", short_day(at)) } else { time }
}

/// The start of the day `days_after` days after `date` ("2026-12-07", as a date input gives it)
/// in the reader's time zone, as RFC 3339; None for anything else.
pub fn local_day_start(date: &str, days_after: u32) -> Option<String> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let day = Date::new_with_year_month_day(y, (m - 1) as i32, (d + days_after) as i32);
    Some(day.to_iso_string().into())
}

/// e.g. "12 Mar", in the reader's time zone.
pub fn short_day(at: DateTime<Utc>) -> String {
    js_date(at).to_locale_date_string("en-GB", &options(&[("day", "numeric"), ("month", "short")])).into()
}

/// "just now", "5 minutes ago", "in 3 days"…
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (at - now).num_seconds();
    let future = seconds > 0;
    let s = seconds.unsigned_abs();
    if future && s < 60 {
        return if s == 1 { "in 1 second".to_owned() } else { format!("in {s} seconds") };
    }
    if s < 60 {
        return "just now".to_owned();
    }
    let (n, unit) = match s {
        s if s < 3_600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3_600, "hour"),
        s if s < 86_400 * 60 => (s / 86_400, "day"),
        s if s < 86_400 * 730 => (s / (86_400 * 30), "month"),
        s => (s / (86_400 * 365), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future { format!("in {n} {unit}{plural}") } else { format!("{n} {unit}{plural} ago") }
}

/// 1234567 -> "1,234,567".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 0.0123 -> "1.2%".
pub fn percent(rate: f64) -> String {
    // Integer maths: formatting floats would add the float printer to the WebAssembly file.
    let tenths = (rate.clamp(0.0, 1.0) * 1000.0).round() as u64;
    if tenths.is_multiple_of(10) { format!("{}%", tenths / 10) } else { format!("{}.{}%", tenths / 10, tenths % 10) }
}

/// A latency in milliseconds, to a precision that fits its size: "0.41 ms", "3.4 ms", "120 ms",
/// "2.5 s" (integer maths, like `percent`).
pub fn millis(ms: f64) -> String {
    let hundredths = (ms.max(0.0) * 100.0).round() as u64;
    match hundredths {
        0 => "<0.01 ms".to_owned(),
        h if h < 100 => format!("0.{h:02} ms"),
        h if h < 1_000 => {
            let tenths = (h + 5) / 10;
            format!("{}.{} ms", tenths / 10, tenths % 10)
        }
        h if h < 100_000 => format!("{} ms", (h + 50) / 100),
        h => {
            let tenths = (h + 5_000) / 10_000;
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    }
}

/// Activity actions with a label, in the order of the filter: those a team's activity can show,
/// from the one vocabulary of `portal_types`.
pub fn actions() -> impl Iterator<Item = (&'static str, &'static str)> {
    portal_types::AuditAction::ALL.iter().filter(|a| a.in_team_activity()).map(|a| (a.as_str(), a.label()))
}

/// A device as a person recognises it ("Firefox on Windows") from a user agent; the user agent
/// itself, shortened, when it names no known browser.
pub fn device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else { return "Unknown device".to_owned() };
    // Order matters: Edge and Opera also say Chrome, and Chrome also says Safari.
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(mark, _)| ua.contains(mark)).map(|(_, name)| *name);
    let system = SYSTEMS.iter().find(|(mark, _)| ua.contains(mark)).map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        _ => ua.chars().take(60).collect(),
    }
}

/// `text` with every RFC 3339 time in it (as the server writes them into activity summaries,
/// e.g. "old key works until 2026-12-07T20:20:55Z") shown as [`date_time`] shows times.
pub fn with_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, end, at)) = first_time(rest) {
        out.push_str(&rest[..start]);
        out.push_str(&date_time(at));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The first RFC 3339 time in `text`: where it starts and ends, and the time.
fn first_time(text: &str) -> Option<(usize, usize, DateTime<Utc>)> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    (0..bytes.len()).find_map(|i| {
        // YYYY-MM-DDTHH:MM:SS, then fractional seconds, then Z or an offset.
        let shape = digits(i..i + 4)
            && bytes.get(i + 4) == Some(&b'-')
            && digits(i + 5..i + 7)
            && bytes.get(i + 7) == Some(&b'-')
            && digits(i + 8..i + 10)
            && matches!(bytes.get(i + 10), Some(b'T' | b't'))
            && digits(i + 11..i + 13)
            && bytes.get(i + 13) == Some(&b':')
            && digits(i + 14..i + 16)
            && bytes.get(i + 16) == Some(&b':')
            && digits(i + 17..i + 19);
        if !shape || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            return None;
        }
        let mut end = i + 19;
        if bytes.get(end) == Some(&b'.') {
            end += 1;
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        match bytes.get(end) {
            Some(b'Z' | b'z') => end += 1,
            Some(b'+' | b'-')
                if digits(end + 1..end + 3) && bytes.get(end + 3) == Some(&b':') && digits(end + 4..end + 6) =>
            {
                end += 6
            }
            _ => return None,
        }
        let at = DateTime::parse_from_rfc3339(&text[i..end]).ok()?.with_timezone(&Utc);
        Some((i, end, at))
    })
}

pub fn action(action: &str) -> String {
    portal_types::AuditAction::parse(action).map_or_else(|| action.to_owned(), |a| a.label().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn devices_are_named_as_people_know_them() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(device(Some(chrome)), "Chrome on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(device(Some(edge)), "Edge on Windows");
        let iphone =
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1";
        assert_eq!(device(Some(iphone)), "Safari on iPhone");
        assert_eq!(device(Some("my-integration/1.0")), "my-integration/1.0");
        assert_eq!(device(None), "Unknown device");
    }

    #[wasm_bindgen_test]
    fn times_in_summaries_are_shown_as_times_are() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T20:20:55Z").unwrap().with_timezone(&Utc);
        let shown = date_time(at);
        assert_eq!(
            with_times("Billing (pp_dev_ab → pp_dev_cd), old key works until 2026-12-07T20:20:55.074457075+00:00"),
            format!("Billing (pp_dev_ab → pp_dev_cd), old key works until {shown}")
        );
        assert_eq!(with_times("until 2026-12-07T20:20:55Z, then"), format!("until {shown}, then"));
        assert_eq!(with_times("2026-12-07T21:20:55+01:00"), shown, "offsets are honoured");
        for kept in
            ["no time here", "2026-12-07", "12026-12-07T20:20:55Z", "2026-13-07T20:20:55Z", "2026-12-07T20:20:55"]
        {
            assert_eq!(with_times(kept), kept);
        }
    }

    #[wasm_bindgen_test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[wasm_bindgen_test]
    fn latencies_keep_sub_millisecond_precision() {
        assert_eq!(millis(0.0), "<0.01 ms");
        assert_eq!(millis(0.412), "0.41 ms");
        assert_eq!(millis(0.05), "0.05 ms");
        assert_eq!(millis(3.44), "3.4 ms");
        assert_eq!(millis(3.96), "4.0 ms");
        assert_eq!(millis(120.4), "120 ms");
        assert_eq!(millis(2_480.0), "2.5 s");
    }

    #[wasm_bindgen_test]
    fn percentages_round_to_one_decimal() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(percent(1.0 / 3.0), "33.3%");
    }

    #[wasm_bindgen_test]
    fn relative_times_read_naturally() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let at = |s: i64| now + chrono::Duration::seconds(s);
        assert_eq!(relative(at(-20), now), "just now");
        assert_eq!(relative(at(-60), now), "1 minute ago");
        assert_eq!(relative(at(-7_200), now), "2 hours ago");
        assert_eq!(relative(at(86_400 * 3), now), "in 3 days");
    }
}
