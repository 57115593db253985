//! The plan as a text table.

use super::{FolderPlan, MappingNote};

/// The plan as a text table (for `--dry-run` and logs).
pub fn render_plan(plan: &FolderPlan) -> String {
    let rows: Vec<[String; 3]> = plan
        .folders
        .iter()
        .map(|m| {
            let mut what = Vec::new();
            what.push(
                if m.exists_at_destination {
                    "exists"
                } else if m.create {
                    "create"
                } else {
                    "created with its children"
                }
                .to_string(),
            );
            if !m.selectable {
                what.push("no messages (\\Noselect)".to_string());
            }
            if m.subscribe {
                what.push("subscribe".to_string());
            }
            if let Some(k) = m.special_use {
                if !m.notes.iter().any(|n| {
                    matches!(
                        n,
                        MappingNote::SpecialUseMatched { .. }
                            | MappingNote::SpecialUseNotAtDestination { .. }
                    )
                }) {
                    what.push(k.to_string());
                }
            }
            what.extend(m.notes.iter().map(ToString::to_string));
            [
                m.source.to_string(),
                m.destination.to_string(),
                what.join("; "),
            ]
        })
        .collect();
    let header = [
        "Source".to_string(),
        "Destination".to_string(),
        "Action and notes".to_string(),
    ];
    let width = |col: usize| {
        std::iter::once(&header)
            .chain(rows.iter())
            .filter_map(|r| r.get(col))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    let to_create = plan.to_create().count();
    out.push_str(&format!(
        "Folders: {} to copy ({} to create), {} skipped\n",
        plan.folders.len(),
        to_create,
        plan.skipped.len()
    ));
    for [a, b, c] in std::iter::once(&header).chain(rows.iter()) {
        let line = format!("  {a:<w0$}  →  {b:<w1$}  {c}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if !plan.skipped.is_empty() {
        out.push_str("Skipped:\n");
        for s in &plan.skipped {
            out.push_str(&format!("  {}  ({})\n", s.source, s.reason));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn plan_render_table() {
        let src = slash(&[
            ("Sent", &["\\Sent"]),
            ("v1.2", NONE),
            ("Boîte d'envoi", NONE),
            ("Ghost", &["\\NonExistent"]),
        ]);
        let mut src = src;
        src.subscribed = vec!["Sent".into()];
        let p = plan(&src, &dot(&[("INBOX.Sent Items", &["\\Sent"])]));
        let text = render_plan(&p);
        assert!(
            text.starts_with("Folders: 4 to copy (2 to create), 1 skipped\n"),
            "{text}"
        );
        assert!(text.contains("Source"), "{text}");
        assert!(text.contains("Boîte d'envoi"), "{text}");
        assert!(text.contains("→  INBOX.Boîte d'envoi"), "{text}");
        assert!(
            text.contains("exists; subscribe; \\Sent: merged into"),
            "{text}"
        );
        assert!(
            text.contains("'.' (the destination's hierarchy separator) replaced by '_'"),
            "{text}"
        );
        assert!(
            text.contains("Skipped:\n  Ghost  (does not exist (\\NonExistent))"),
            "{text}"
        );
        // Columns line up (widths in characters).
        let arrows: Vec<usize> = text
            .lines()
            .filter_map(|l| l.find('→').map(|i| l[..i].chars().count()))
            .collect();
        assert!(arrows.windows(2).all(|w| w[0] == w[1]), "{text}");
    }
}
