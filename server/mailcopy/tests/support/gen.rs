//! A generated mailbox: seeded, reproducible, CRLF line endings.
//!
//! What it holds on purpose: nested and non-ASCII folder names (and `&`, which modified UTF-7
//! escapes), an empty folder, every system flag and several keywords, INTERNALDATEs from 1995
//! to 2025 in zones from -1200 to +1345, identical messages in one folder, messages without
//! Message-ID and different messages sharing one, raw 8-bit header bytes (Latin-1 and UTF-8),
//! a message without a final CRLF, and (optionally) a multi-megabyte attachment.

use std::fmt::Write as _;

/// splitmix64: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenMessage {
    pub raw: Vec<u8>,
    /// As APPENDed (system flags and keywords).
    pub flags: Vec<String>,
    /// IMAP date-time as APPENDed, e.g. `"07-Mar-2003 22:15:00 +0530"`.
    pub internaldate: String,
    /// The same instant in seconds since the Unix epoch.
    pub utc: i64,
}

impl GenMessage {
    pub fn is_deleted(&self) -> bool {
        self.flags.iter().any(|f| f == "\\Deleted")
    }
}

#[derive(Debug, Clone)]
pub struct GenFolder {
    /// Path components, UTF-8, relative to the personal namespace (`["INBOX"]` for INBOX).
    pub path: Vec<String>,
    pub subscribed: bool,
    pub messages: Vec<GenMessage>,
}

#[derive(Debug, Clone)]
pub struct GenMailbox {
    pub folders: Vec<GenFolder>,
}

impl GenMailbox {
    pub fn messages(&self) -> impl Iterator<Item = &GenMessage> {
        self.folders.iter().flat_map(|f| f.messages.iter())
    }

    pub fn folder_mut(&mut self, path: &[&str]) -> &mut GenFolder {
        self.folders
            .iter_mut()
            .find(|f| f.path == path)
            .expect("generated folder")
    }
}

pub struct GenOptions {
    /// Add a message with a ~3 MB base64 attachment to `Work`.
    pub big_attachment: bool,
    /// Scale of the message counts (1 = the default small mailbox).
    pub scale: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            big_attachment: true,
            scale: 1,
        }
    }
}

pub const KEYWORDS: &[&str] = &["$Forwarded", "$Label1", "Work", "todo", "$MDNSent", "$Junk"];
pub const SYSTEM_FLAGS: &[&str] = &["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"];
const ZONES: &[i32] = &[0, -800, 530, 1345, -330, 100, -1200, 1000, 545];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: &[&str] = &["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const WORDS: &[&str] = &[
    "meeting",
    "budget",
    "report",
    "hello",
    "invoice",
    "lunch",
    "project",
    "deadline",
    "review",
    "holiday",
    "draft",
    "minutes",
    "server",
    "backup",
    "migration",
    "question",
    "answer",
];
const NAMES: &[&[u8]] = &[
    b"Alice Example <alice@example.test>",
    b"Bob <bob@example.test>",
    b"Jos\xe9 Mart\xednez <jose@example.es>", // raw Latin-1
    b"J\xc3\xbcrgen M\xc3\xbcller <juergen@example.de>", // raw UTF-8
    b"=?UTF-8?Q?Ren=C3=A9e?= <renee@example.fr>",
    b"\"Smith, John\" <john@example.test>",
];

/// Days since 1970-01-01 → (year, month 1..=12, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (IMAP date-time, RFC 5322 date) of `utc` seen in zone `zone` (e.g. 530 = +05:30).
pub fn format_dates(utc: i64, zone: i32) -> (String, String) {
    let offset = i64::from(zone / 100) * 3600 + i64::from(zone % 100) * 60;
    let local = utc + offset;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let sign = if zone < 0 { '-' } else { '+' };
    let z = zone.abs();
    let mon = MONTHS[(m - 1) as usize];
    let imap = format!("{d:02}-{mon}-{y} {hh:02}:{mm:02}:{ss:02} {sign}{z:04}");
    let wday = DAYS[days.rem_euclid(7) as usize];
    let rfc = format!("{wday}, {d} {mon} {y} {hh:02}:{mm:02}:{ss:02} {sign}{z:04}");
    (imap, rfc)
}

struct Builder<'a> {
    rng: &'a mut Rng,
    seed: u64,
    serial: u64,
}

impl Builder<'_> {
    fn flags(&mut self) -> Vec<String> {
        let mut flags = Vec::new();
        for f in SYSTEM_FLAGS {
            let p = if *f == "\\Deleted" { 6 } else { 35 };
            if self.rng.chance(p) {
                flags.push(f.to_string());
            }
        }
        for k in KEYWORDS {
            if self.rng.chance(20) {
                flags.push(k.to_string());
            }
        }
        flags
    }

    fn words(&mut self, n: u64) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(self.rng.pick::<&str>(WORDS));
        }
        s
    }

    /// A message; `shared_id` forces the shared Message-ID.
    fn message(
        &mut self,
        folder: &str,
        extra_body: Option<Vec<u8>>,
        shared_id: bool,
    ) -> GenMessage {
        self.serial += 1;
        let utc = self.rng.range(788_918_400, 1_767_139_199) as i64; // 1995-01-01 .. 2025-12-31
        let zone = *self.rng.pick(ZONES);
        let (internaldate, date_header) = format_dates(utc, zone);
        let mut h: Vec<u8> = Vec::new();
        h.extend_from_slice(b"From: ");
        h.extend_from_slice(self.rng.pick::<&[u8]>(NAMES));
        h.extend_from_slice(b"\r\nTo: Someone <someone@example.test>\r\n");
        let subject = match self.rng.below(5) {
            0 => b"Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e \xe6\x97\xa5\xe6\x9c\xac".to_vec(),
            1 => b"R\xe9sum\xe9 (Latin-1, raw)".to_vec(),
            _ => {
                let n = self.rng.range(1, 6);
                self.words(n).into_bytes()
            }
        };
        h.extend_from_slice(b"Subject: ");
        h.extend_from_slice(&subject);
        let _ = write!(
            h_str(&mut h),
            " #{}\r\nDate: {date_header}\r\n",
            self.serial
        );
        if shared_id || self.rng.chance(12) {
            h.extend_from_slice(b"Message-ID: <shared-id@example.test>\r\n");
        } else if !self.rng.chance(15) {
            let _ = write!(
                h_str(&mut h),
                "Message-ID: <gen.{}.{}@example.test>\r\n",
                self.seed,
                self.serial
            );
        } // else: no Message-ID at all
        if self.rng.chance(30) {
            h.extend_from_slice(b"X-Folder: ");
            h.extend_from_slice(folder.as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        match extra_body {
            Some(attachment) => {
                h.extend_from_slice(
                    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b-gen\"\r\n\r\n\
--b-gen\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attachment.\r\n\
--b-gen\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n",
                );
                h.extend_from_slice(&attachment);
                h.extend_from_slice(b"--b-gen--\r\n");
            }
            None => {
                h.extend_from_slice(
                    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
                );
                for _ in 0..self.rng.range(1, 25) {
                    let n = self.rng.range(1, 12);
                    let line = self.words(n);
                    h.extend_from_slice(line.as_bytes());
                    h.extend_from_slice(b"\r\n");
                }
                if self.rng.chance(20) {
                    h.extend_from_slice("8-bit body: ½ € ü 日本\r\n".as_bytes());
                }
            }
        }
        GenMessage {
            raw: h,
            flags: self.flags(),
            internaldate,
            utc,
        }
    }
}

/// `write!` into a byte vector through a String detour (ASCII only).
fn h_str(h: &mut Vec<u8>) -> ByteWriter<'_> {
    ByteWriter(h)
}

struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Base64 with 76-character CRLF lines.
pub fn base64_lines(data: &[u8]) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(data.len() * 4 / 3 + data.len() / 57 * 2 + 8);
    for chunk in data.chunks(57) {
        for c in chunk.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            out.push(T[(n >> 18) as usize & 63]);
            out.push(T[(n >> 12) as usize & 63]);
            out.push(if c.len() > 1 {
                T[(n >> 6) as usize & 63]
            } else {
                b'='
            });
            out.push(if c.len() > 2 {
                T[n as usize & 63]
            } else {
                b'='
            });
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The mailbox for `seed`.
pub fn generate(seed: u64, opts: &GenOptions) -> GenMailbox {
    let mut rng = Rng::new(seed);
    let mut b = Builder {
        rng: &mut rng,
        seed,
        serial: 0,
    };
    let s = opts.scale.max(1) as u64;
    let spec: &[(&[&str], bool, u64)] = &[
        (&["INBOX"], true, 14),
        (&["Sent"], true, 4),
        (&["Drafts"], false, 2),
        (&["Work"], true, 5),
        (&["Work", "Projects"], true, 3),
        (&["Work", "Projects", "2024"], false, 2),
        (&["Données"], true, 4),
        (&["Données", "Été à Paris"], true, 3),
        (&["日本語"], false, 2),
        (&["Q&A"], true, 2),
        (&["Empty"], true, 0),
    ];
    let mut folders = Vec::new();
    for (path, subscribed, n) in spec {
        let name = path.join("/");
        let messages = (0..n * s)
            .map(|i| b.message(&name, None, *n > 0 && i == 1))
            .collect();
        folders.push(GenFolder {
            path: path.iter().map(|p| p.to_string()).collect(),
            subscribed: *subscribed,
            messages,
        });
    }
    let mut mailbox = GenMailbox { folders };

    // Every system flag and keyword at least once, on INBOX's first messages.
    {
        let inbox = mailbox.folder_mut(&["INBOX"]);
        inbox.messages[0].flags = vec!["\\Seen".into(), "\\Answered".into(), "$Forwarded".into()];
        inbox.messages[1].flags = vec![
            "\\Flagged".into(),
            "\\Draft".into(),
            "$Label1".into(),
            "Work".into(),
        ];
        inbox.messages[2].flags = vec!["\\Deleted".into(), "\\Seen".into(), "todo".into()];
        inbox.messages[3].flags = KEYWORDS.iter().map(|k| k.to_string()).collect();
        inbox.messages[4].flags = Vec::new();
        // Identical messages: the same bytes, flags and date three times.
        let dup = inbox.messages[5].clone();
        inbox.messages.push(dup.clone());
        inbox.messages.push(dup);
    }
    {
        let f = mailbox.folder_mut(&["Données"]);
        let dup = f.messages[0].clone();
        f.messages.push(dup);
    }
    {
        // No final CRLF.
        let f = mailbox.folder_mut(&["日本語"]);
        let m = &mut f.messages[0];
        while m.raw.ends_with(b"\r\n") {
            m.raw.truncate(m.raw.len() - 2);
        }
        m.raw.extend_from_slice("末尾に改行なし".as_bytes());
    }
    if opts.big_attachment {
        let data = rng.bytes(2_300_000);
        let mut b = Builder {
            rng: &mut rng,
            seed,
            serial: 10_000,
        };
        let mut m = b.message("Work", Some(base64_lines(&data)), false);
        m.flags = vec!["\\Seen".into(), "$Label1".into()];
        mailbox.folder_mut(&["Work"]).messages.push(m);
    }
    mailbox
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `"dd-Mon-yyyy hh:mm:ss +zzzz"` (day may start with a space) → seconds since the epoch.
pub fn parse_imap_date(s: &str) -> i64 {
    let s = s.trim();
    let (date, rest) = s.split_once(' ').expect("date time");
    let (time, zone) = rest.split_once(' ').expect("time zone");
    let mut dp = date.split('-');
    let d: u32 = dp.next().unwrap().trim().parse().unwrap();
    let mon = dp.next().unwrap();
    let m = MONTHS
        .iter()
        .position(|x| x.eq_ignore_ascii_case(mon))
        .unwrap() as u32
        + 1;
    let y: i64 = dp.next().unwrap().parse().unwrap();
    let t: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    let z: i64 = zone[1..].parse().unwrap();
    let offset = (z / 100) * 3600 + (z % 100) * 60;
    let offset = if zone.starts_with('-') {
        -offset
    } else {
        offset
    };
    days_from_civil(y, m, d) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2] - offset
}

#[test]
fn dates_round_trip() {
    for (utc, zone) in [
        (0i64, 0),
        (1_000_000_000, 1345),
        (788_918_400, -800),
        (1_767_139_199, -330),
    ] {
        let (imap, _) = format_dates(utc, zone);
        assert_eq!(parse_imap_date(&imap), utc, "{imap}");
    }
    assert_eq!(parse_imap_date(" 1-Jan-1970 00:00:00 +0000"), 0);
}
