//! The end-of-job report e-mail: rendered from the one translation catalogue (text and HTML),
//! built with lettre, delivered by IMAP APPEND into the destination's INBOX (the default: no
//! relay, no address needed) or through an SMTP relay when one is configured.
//!
//! The HTML is built for mail clients: one column at most 600 px wide, tables sized by
//! attributes (`width`, `border`, `cellpadding`, `align`) so it stays readable where a client
//! strips styles, and lists rather than wide tables for the messages not copied.

pub mod dates;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use app::i18n::{fill, Lang, T};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailcopy::copy::{human_bytes, CopyReport, Outcome, RejectReason, SkipReason};
use mailcopy::{ConnectOptions, Credentials, Endpoint};
use secrecy::ExposeSecret;

use crate::jobs::runner::AfterJob;
use crate::jobs::state::JobState;
use crate::jobs::store_trait::{source_address, AccountSecret, Attempt, Job, JobStore};
use jiff::tz::TimeZone;

/// At most this many rejected (and skipped) messages are listed one by one.
pub const MAX_LISTED: usize = 300;

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn esc(s: &str) -> String {
    // Five characters; a templating crate would be more than this needs.
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// RFC 3339, for operators (the `jobs` command); the report writes dates out ([`dates`]).
pub fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn format_duration(ms: i64) -> String {
    let secs = (ms / 1000).max(0);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

pub fn skip_reason(reason: &SkipReason) -> &'static str {
    match reason {
        SkipReason::Deleted => "flagged \\Deleted at the source",
        SkipReason::Vanished => "expunged at the source during the copy",
    }
}

pub fn reject_reason(reason: &RejectReason, server_text: &str) -> String {
    match reason {
        RejectReason::Refused => format!("refused by the destination: {server_text}"),
        RejectReason::TooLarge { size, limit } => {
            format!(
                "too large ({} > {})",
                human_bytes(*size),
                human_bytes(*limit)
            )
        }
        RejectReason::Unreadable => format!("could not be read at the source: {server_text}"),
    }
}

/// Where the report points and how it writes dates.
#[derive(Clone, Debug)]
pub struct ReportSettings {
    /// Base URL of the service, for the job's link.
    pub public_url: String,
    /// The zone the report's dates are written in.
    pub time_zone: TimeZone,
}

const TABLE: &str = "<table width=\"100%\" border=\"1\" cellpadding=\"4\" cellspacing=\"0\" style=\"border-collapse:collapse\">";

/// Renders the report of a final job. `report` is the engine's result when the copy ran;
/// `attempts` the job's attempts (listed when there was more than one).
pub fn render(
    job: &Job,
    report: Option<&CopyReport>,
    attempts: &[Attempt],
    settings: &ReportSettings,
) -> Rendered {
    let public_url = settings.public_url.as_str();
    let when = |ms: i64| dates::written(ms, lang_of(job), &settings.time_zone);
    let lang = lang_of(job);
    let t = |key: T| key.get(lang);
    let source = job.source_address.clone();
    let destination = source_address(&job.destination.login, &job.destination.host);
    let finished = job.state == JobState::Finished;
    let subject = fill(
        if finished {
            t(T::ReportSubjectFinished)
        } else {
            t(T::ReportSubjectFailed)
        },
        &[("source", source.clone())],
    );
    let headline = if finished {
        t(T::StateFinished).to_string()
    } else {
        t(T::StateFailed).to_string()
    };
    // The report reaches the user: no resolved address in it (the log has the full error).
    let cause = job
        .last_error
        .as_deref()
        .filter(|_| !finished)
        .map(crate::web::redact::without_addresses);
    let outcome = match job.outcome.as_deref() {
        Some("complete") => Some(t(T::OutcomeComplete)),
        Some("complete_with_rejections") => Some(t(T::OutcomeRejections)),
        Some("incomplete") => Some(t(T::OutcomeIncomplete)),
        _ => None,
    };
    let started = job.started_at.unwrap_or(job.created_at);
    let ended = job.finished_at.unwrap_or(started);
    let link = format!("{}/jobs/{}", public_url.trim_end_matches('/'), job.id);

    let mut text = String::new();
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"margin:0;font-family:sans-serif;font-size:15px\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"max-width:600px\"><tr><td style=\"padding:8px\">",
        lang.code()
    );
    let _ = writeln!(
        text,
        "{headline}{}",
        cause.as_ref().map(|c| format!(" {c}")).unwrap_or_default()
    );
    let _ = write!(
        html,
        "<p><strong>{}</strong>{}</p>",
        esc(&headline),
        cause
            .as_ref()
            .map(|c| format!(" <span lang=\"en\">{}</span>", esc(c)))
            .unwrap_or_default()
    );
    if let Some(outcome) = outcome {
        let _ = writeln!(text, "{outcome}");
        let _ = write!(html, "<p>{}</p>", esc(outcome));
    }
    let _ = writeln!(text);
    let account = |spec: &crate::jobs::store_trait::AccountSpec| {
        format!("{} ({}:{})", spec.login, spec.host, spec.port)
    };
    let facts = [
        (t(T::ReportSource), account(&job.source)),
        (t(T::ReportDestination), account(&job.destination)),
        (t(T::ReportStarted), when(started)),
        (t(T::ReportEnded), when(ended)),
        (t(T::ReportDuration), format_duration(ended - started)),
    ];
    html.push_str("<table role=\"presentation\" cellpadding=\"2\" cellspacing=\"0\" border=\"0\">");
    for (label, value) in &facts {
        let _ = writeln!(text, "{label}: {value}");
        let _ = write!(
            html,
            "<tr><th align=\"left\" valign=\"top\">{}</th><td>{}</td></tr>",
            esc(label),
            esc(value)
        );
    }
    html.push_str("</table>");
    if attempts.len() > 1 {
        let _ = writeln!(text, "\n{}:", t(T::AttemptsHeading));
        let _ = write!(
            html,
            "<p><strong>{}</strong></p><ul>",
            esc(t(T::AttemptsHeading))
        );
        for a in attempts {
            let line = attempt_line(a, lang, &when);
            let _ = writeln!(text, "- {line}");
            let _ = write!(html, "<li>{}</li>", esc(&line));
        }
        html.push_str("</ul>");
    }

    if let Some(report) = report {
        let totals = &report.totals;
        let line = fill(
            t(T::ReportTotals),
            &[
                ("folders", totals.folders.to_string()),
                ("messages", totals.messages.to_string()),
                ("bytes", human_bytes(totals.bytes)),
                // Whatever attempt of the job appended it.
                ("copied", totals.copied_by_this_copy().to_string()),
                ("present", totals.already_present.to_string()),
                ("skipped", totals.skipped.to_string()),
                ("rejected", totals.rejected.to_string()),
            ],
        );
        let _ = writeln!(text, "\n{line}");
        let _ = write!(html, "<p>{}</p>", esc(&line));
        if totals.keywords_dropped > 0 {
            let line = fill(
                t(T::ReportKeywordsDropped),
                &[("n", totals.keywords_dropped.to_string())],
            );
            let _ = writeln!(text, "{line}");
            let _ = write!(html, "<p>{}</p>", esc(&line));
        }

        // The completeness table: the destination folder under its source when it differs,
        // so that seven narrow columns fit a 600 px column.
        let headers = [
            t(T::TableFolder),
            t(T::TableSource),
            t(T::TableAtDestination),
            t(T::TableCopied),
            t(T::TablePresent),
            t(T::TableSkipped),
            t(T::TableRejected),
        ];
        let _ = writeln!(
            text,
            "\n{} | {} | {}",
            t(T::TableFolder),
            t(T::TableDestination),
            headers[1..].join(" | ")
        );
        html.push_str(TABLE);
        html.push_str("<tr>");
        for (i, h) in headers.iter().enumerate() {
            let align = if i == 0 { "left" } else { "right" };
            // <small>, not a font-size style: it stays small where styles are stripped.
            let _ = write!(html, "<th align=\"{align}\"><small>{}</small></th>", esc(h));
        }
        html.push_str("</tr>");
        for f in &report.folders {
            let counts = [
                f.source_count.to_string(),
                f.destination_count
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "?".into()),
                f.copied_by_this_copy().to_string(),
                f.already_present.to_string(),
                f.skipped.len().to_string(),
                f.rejected.len().to_string(),
            ];
            let (source, destination) = (f.source.to_string(), f.destination.to_string());
            let _ = writeln!(text, "{source} | {destination} | {}", counts.join(" | "));
            let _ = write!(
                html,
                "<tr><td style=\"word-break:break-word\"><small>{}{}</small></td>",
                esc(&source),
                if destination == source {
                    String::new()
                } else {
                    format!("<br>&rarr; {}", esc(&destination))
                }
            );
            for c in &counts {
                let _ = write!(html, "<td align=\"right\"><small>{}</small></td>", esc(c));
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");

        let rejected: Vec<_> = report
            .folders
            .iter()
            .flat_map(|f| f.rejected.iter().map(move |r| (f, r)))
            .collect();
        let skipped: Vec<_> = report
            .folders
            .iter()
            .flat_map(|f| f.skipped.iter().map(move |s| (f, s)))
            .collect();
        /// Folder, summary, reason.
        type Listed<'a> = (String, &'a mailcopy::copy::MessageSummary, String);
        let lists: [(T, Vec<Listed>); 2] = [
            (
                T::ReportRejectedList,
                rejected
                    .iter()
                    .map(|(f, r)| {
                        (
                            f.source.to_string(),
                            &r.summary,
                            reject_reason(&r.reason, &r.server_text),
                        )
                    })
                    .collect(),
            ),
            (
                T::ReportSkippedList,
                skipped
                    .iter()
                    .map(|(f, s)| {
                        (
                            f.source.to_string(),
                            &s.summary,
                            skip_reason(&s.reason).to_string(),
                        )
                    })
                    .collect(),
            ),
        ];
        for (title, items) in lists {
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(text, "\n{}:", t(title));
            let _ = write!(html, "<h3>{}</h3><ul>", esc(t(title)));
            for (folder, summary, reason) in items.iter().take(MAX_LISTED) {
                let cells = [
                    folder.clone(),
                    summary.date.clone().unwrap_or_default(),
                    summary.from.clone().unwrap_or_default(),
                    summary.subject.clone().unwrap_or_default(),
                    human_bytes(summary.size),
                    reason.clone(),
                ];
                let _ = writeln!(text, "- {}", cells.join(" | "));
                // Subject first, then who and when, then why: readable at any width.
                let labelled = |key: T, value: &str| format!("{}: {}", t(key), esc(value));
                let _ = write!(
                    html,
                    "<li style=\"margin-bottom:6px;word-break:break-word\"><strong>{}</strong><br>{} · {} · {}<br>{} · <span lang=\"en\">{}</span></li>",
                    esc(&cells[3]),
                    labelled(T::ReportFrom, &cells[2]),
                    labelled(T::ReportDate, &cells[1]),
                    labelled(T::ReportSize, &cells[4]),
                    labelled(T::TableFolder, &cells[0]),
                    esc(&cells[5]),
                );
            }
            html.push_str("</ul>");
            if items.len() > MAX_LISTED {
                let more = fill(
                    t(T::ReportMore),
                    &[("n", (items.len() - MAX_LISTED).to_string())],
                );
                let _ = writeln!(text, "{more}");
                let _ = write!(html, "<p>{}</p>", esc(&more));
            }
        }
    }
    let _ = writeln!(
        text,
        "\n{} {link}\n\n-- \n{}",
        t(T::ReportLink),
        t(T::ReportSignature)
    );
    let _ = write!(
        html,
        "<p>{} <a href=\"{}\" style=\"word-break:break-all\">{}</a></p><p style=\"color:#666\">{}</p></td></tr></table></body></html>",
        esc(t(T::ReportLink)),
        esc(&link),
        esc(&link),
        esc(t(T::ReportSignature))
    );
    let _ = destination;
    Rendered {
        subject,
        text,
        html,
    }
}

fn lang_of(job: &Job) -> Lang {
    Lang::from_code(&job.lang).unwrap_or_default()
}

/// "Attempt 2: 3 December 2026, 12:45 UTC – 3 December 2026, 12:47 UTC, finished", with
/// times as `when` writes them (the report's dates; the job page's UTC minutes).
pub fn attempt_line(a: &Attempt, lang: Lang, when: &dyn Fn(i64) -> String) -> String {
    let running = T::AttemptRunning.get(lang);
    fill(
        T::AttemptLine.get(lang),
        &[
            ("n", a.number.to_string()),
            ("start", when(a.started_at)),
            ("end", a.ended_at.map_or_else(|| running.to_string(), when)),
            (
                "how",
                a.end.map_or(running, |e| e.text().get(lang)).to_string(),
            ),
        ],
    )
}

/// The report as an RFC 5322 message (multipart/alternative: text, then HTML).
pub fn build_message(rendered: &Rendered, from: Mailbox, to: Mailbox) -> anyhow::Result<Message> {
    Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject.clone())
        .message_id(None)
        .date_now()
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(rendered.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(rendered.html.clone()),
                ),
        )
        .map_err(|e| anyhow::anyhow!("building the report message: {e}"))
}

#[derive(Clone, Debug)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    /// `tls` (implicit), `starttls` or `plain` (tests and local relays only).
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Delivery {
    /// APPEND into the destination account's INBOX, with its own credentials.
    ImapAppend,
    Smtp(SmtpRelay),
}

pub struct Reporter {
    pub store: Arc<dyn JobStore>,
    pub connect: Arc<ConnectOptions>,
    pub delivery: Delivery,
    pub settings: ReportSettings,
    pub from: Mailbox,
    pub attempts: u32,
    pub retry_delay: Duration,
}

impl Reporter {
    async fn deliver_once(&self, job: &Job, message: &Message) -> anyhow::Result<()> {
        match &self.delivery {
            Delivery::ImapAppend => {
                let secrets = self
                    .store
                    .secrets(&job.id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("credentials already wiped"))?;
                let endpoint = Endpoint::new(
                    job.destination.host.clone(),
                    job.destination.port,
                    job.destination.security,
                );
                let login = job.destination.login.clone();
                let creds = match &secrets.destination {
                    AccountSecret::Password(p) => Credentials::new(login, p.expose_secret()),
                    // The job's last access token, stored when it was renewed: the report is
                    // sent as the job ends, while it is still valid.
                    AccountSecret::OAuth2(grant) => {
                        Credentials::oauth2(login, grant.tokens.access_token.expose_secret())
                    }
                };
                drop(secrets);
                let mut session = mailcopy::connect(&endpoint, &creds, &self.connect).await?;
                let bytes = message.formatted();
                session
                    .append("INBOX", &[], None, &bytes)
                    .await
                    .map_err(|e| anyhow::anyhow!("APPEND of the report refused: {e}"))?;
                let _ = session.logout().await;
                Ok(())
            }
            Delivery::Smtp(relay) => {
                let builder = match relay.security.as_str() {
                    "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&relay.host)?,
                    "starttls" => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&relay.host)?
                    }
                    _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host),
                };
                let mut builder = builder
                    .port(relay.port)
                    .timeout(Some(Duration::from_secs(30)));
                if let (Some(user), Some(pass)) = (&relay.username, &relay.password) {
                    builder = builder.credentials(
                        lettre::transport::smtp::authentication::Credentials::new(
                            user.clone(),
                            pass.clone(),
                        ),
                    );
                }
                builder.build().send(message.clone()).await?;
                Ok(())
            }
        }
    }

    fn recipient(&self, job: &Job) -> anyhow::Result<Mailbox> {
        let address = match (&self.delivery, &job.report_to) {
            (Delivery::Smtp(_), Some(to)) => to.clone(),
            _ => source_address(&job.destination.login, &job.destination.host),
        };
        address
            .parse::<Mailbox>()
            .map_err(|e| anyhow::anyhow!("report recipient {address:?}: {e}"))
    }
}

#[async_trait::async_trait]
impl AfterJob for Reporter {
    async fn job_ended(&self, job: &Job, report: Option<&CopyReport>) {
        let stored;
        let report = match report {
            Some(r) => Some(r),
            None => {
                stored = job.result.as_deref().and_then(|r| {
                    serde_json::from_str::<crate::jobs::runner::StoredResult>(r).ok()
                });
                stored.as_ref().map(|s| &s.report)
            }
        };
        if let Some(r) = report {
            if matches!(r.outcome, Outcome::Incomplete { .. }) && job.state == JobState::Finished {
                tracing::warn!(job = %job.id, "finished job with an incomplete outcome");
            }
        }
        let attempts = self.store.attempts(&job.id).await.unwrap_or_else(|e| {
            tracing::warn!(job = %job.id, error = %e, "reading the attempts for the report");
            Vec::new()
        });
        let rendered = render(job, report, &attempts, &self.settings);
        let message = match self
            .recipient(job)
            .and_then(|to| build_message(&rendered, self.from.clone(), to))
        {
            Ok(m) => m,
            Err(e) => {
                let _ = self
                    .store
                    .report_attempt(&job.id, false, Some(&e.to_string()), true)
                    .await;
                tracing::warn!(job = %job.id, error = %e, "report not deliverable");
                return;
            }
        };
        for attempt in 1..=self.attempts.max(1) {
            match self.deliver_once(job, &message).await {
                Ok(()) => {
                    let _ = self.store.report_attempt(&job.id, true, None, false).await;
                    tracing::info!(job = %job.id, "report delivered");
                    return;
                }
                Err(e) => {
                    let last = attempt >= self.attempts.max(1);
                    let _ = self
                        .store
                        .report_attempt(&job.id, false, Some(&e.to_string()), last)
                        .await;
                    tracing::warn!(job = %job.id, attempt, error = %e, "report delivery failed");
                    if !last {
                        tokio::time::sleep(self.retry_delay * attempt).await;
                    }
                }
            }
        }
    }
}
