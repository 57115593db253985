//! Dates in the report e-mail as a person writes them in the report's language, in the
//! operator's time zone (`--report-time-zone`, UTC by default), with the zone's name:
//! "3 December 2026, 13:45 CET", "3 de diciembre de 2026, 13:45 CET",
//! "3 décembre 2026 à 13:45 CET". jiff carries the time-zone database (bundled, so a
//! machine without tzdata still knows `Europe/Madrid`); month names are ours, three
//! languages being less than a locale crate.

use app::i18n::Lang;
use jiff::tz::TimeZone;
use jiff::Timestamp;

const MONTHS: [[&str; 12]; 3] = [
    [
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
    ],
    [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
];

/// The operator's time zone by its IANA name (`Europe/Madrid`) or `UTC`.
pub fn time_zone(name: &str) -> anyhow::Result<TimeZone> {
    TimeZone::get(name.trim()).map_err(|e| anyhow::anyhow!("time zone {name:?}: {e}"))
}

/// A time (ms since the Unix epoch) written out in `lang`, to the minute, with the zone's
/// abbreviation (or its offset where the zone has none).
pub fn written(ms: i64, lang: Lang, tz: &TimeZone) -> String {
    let Ok(ts) = Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let z = ts.to_zoned_datetime(tz.clone());
    let month =
        MONTHS[lang_index(lang)][usize::from(z.month().unsigned_abs()).saturating_sub(1) % 12];
    let (day, year) = (z.day(), z.year());
    let time = format!("{:02}:{:02}", z.hour(), z.minute());
    let zone = z.strftime("%Z").to_string();
    match lang {
        Lang::En => format!("{day} {month} {year}, {time} {zone}"),
        Lang::Es => format!("{day} de {month} de {year}, {time} {zone}"),
        Lang::Fr => format!("{day} {month} {year} à {time} {zone}"),
    }
}

fn lang_index(lang: Lang) -> usize {
    match lang {
        Lang::En => 0,
        Lang::Es => 1,
        Lang::Fr => 2,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // 2026-12-03T12:45:30Z
    const T: i64 = 1_796_301_930_000;

    #[test]
    fn a_time_reads_as_written_in_each_language_with_its_zone() {
        let utc = time_zone("UTC").unwrap();
        assert_eq!(written(T, Lang::En, &utc), "3 December 2026, 12:45 UTC");
        assert_eq!(
            written(T, Lang::Es, &utc),
            "3 de diciembre de 2026, 12:45 UTC"
        );
        assert_eq!(written(T, Lang::Fr, &utc), "3 décembre 2026 à 12:45 UTC");
        let madrid = time_zone("Europe/Madrid").unwrap();
        assert_eq!(
            written(T, Lang::Es, &madrid),
            "3 de diciembre de 2026, 13:45 CET"
        );
        // Summer time, and a zone across the date line.
        let july = T - 150 * 86_400_000;
        assert_eq!(written(july, Lang::En, &madrid), "6 July 2026, 14:45 CEST");
        let auckland = time_zone("Pacific/Auckland").unwrap();
        assert_eq!(
            written(T, Lang::Fr, &auckland),
            "4 décembre 2026 à 01:45 NZDT"
        );
    }

    #[test]
    fn an_unknown_zone_is_an_error_naming_it() {
        let e = time_zone("Mars/Olympus").unwrap_err().to_string();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }
}
