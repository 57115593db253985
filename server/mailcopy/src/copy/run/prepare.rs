//! Listing both accounts and preparing the destination: CREATE (parents first, empty folders
//! too) and SUBSCRIBE as planned.

use super::*;

impl Run<'_> {
    pub(super) async fn listings(&self, lane: &mut Lane) -> Result<(Listing, Listing), Stop> {
        let (src, dst) = match (lane.src.as_mut(), lane.dst.as_mut()) {
            (Some(s), Some(d)) => (s, d),
            _ => return Err(Stop::lost("no connection")),
        };
        let (a, b) = tokio::join!(listing(src, "source"), listing(dst, "destination"));
        Ok((a?, b?))
    }

    /// CREATE what the plan says (parents before children: the plan is sorted so), then
    /// SUBSCRIBE as planned. A name the destination refuses to create goes into
    /// [`PlanOptions::refused`] and the folders are planned again (the planner picks another
    /// name), a few rounds at most. Returns the final plan and, per destination name, the
    /// refusals that remain.
    pub(super) async fn prepare_destination(
        &self,
        lane: &mut Lane,
        mut plan: FolderPlan,
        source: &Listing,
        dest: &mut Listing,
        options: &mut PlanOptions,
    ) -> Result<(FolderPlan, BTreeMap<String, String>), (FolderPlan, Stop)> {
        const ROUNDS: usize = 3;
        let mut refusals: BTreeMap<String, String> = BTreeMap::new();
        for round in 0..ROUNDS {
            let mut refused_now = false;
            let delimiter = dest.effective_delimiter();
            let to_create: Vec<String> = plan
                .to_create()
                .filter(|m| !m.exists_at_destination)
                .map(|m| m.destination.raw().to_string())
                .collect();
            let answers = match self.dst_simple_many(lane, "CREATE", &to_create).await {
                Ok(a) => a,
                Err(Fail::Fatal(e)) => return Err((plan, e)),
                Err(Fail::Message(text)) | Err(Fail::Folder(text)) | Err(Fail::Busy(text)) => {
                    vec![Err(text); to_create.len()]
                }
            };
            for (name, answer) in to_create.into_iter().zip(answers) {
                let created = match answer {
                    Ok(()) => {
                        // New now: no APPEND of an earlier session can be arriving in it (it
                        // would have been refused, TRYCREATE), so its scan needs no quiet check.
                        lock(&self.state).fresh.insert(name.clone());
                        true
                    }
                    // RFC 5530 [ALREADYEXISTS] (Dovecot: "NO [ALREADYEXISTS] Mailbox already
                    // exists"): made implicitly with a child, or by another client.
                    Err(text) if text.to_ascii_uppercase().contains("[ALREADYEXISTS]") => true,
                    Err(text) => {
                        tracing::info!(folder = %name, %text, "CREATE refused");
                        refusals.insert(name.clone(), text);
                        if round + 1 < ROUNDS {
                            options.refused.insert(name.clone());
                            refused_now = true;
                        }
                        false
                    }
                };
                if created {
                    refusals.remove(&name);
                    // From now on the planner sees it as existing: a new plan keeps it.
                    dest.folders.push(Folder {
                        name: MailboxName::from_raw(name),
                        delimiter,
                        attributes: Vec::new(),
                    });
                }
            }
            if !refused_now {
                break;
            }
            plan = plan_folders(source, dest, options);
        }
        let errors: BTreeMap<String, String> = refusals
            .into_iter()
            .filter(|(name, _)| plan.folders.iter().any(|m| m.destination == name.as_str()))
            .map(|(name, text)| {
                (
                    name,
                    format!("the destination refused to create it: {text}"),
                )
            })
            .collect();
        let to_subscribe: Vec<String> = plan
            .to_subscribe()
            .filter(|m| !errors.contains_key(m.destination.raw()))
            .map(|m| m.destination.raw().to_string())
            .collect();
        let to_subscribe: Vec<String> = to_subscribe
            .into_iter()
            .filter(|name| !dest.subscribed.contains(name))
            .collect();
        match self.dst_simple_many(lane, "SUBSCRIBE", &to_subscribe).await {
            Ok(answers) => {
                for (name, answer) in to_subscribe.iter().zip(answers) {
                    // A subscription is a convenience: note it, do not fail the folder.
                    if let Err(text) = answer {
                        tracing::info!(folder = %name, %text, "SUBSCRIBE refused");
                    }
                }
            }
            Err(Fail::Message(text)) | Err(Fail::Folder(text)) | Err(Fail::Busy(text)) => {
                tracing::info!(%text, "SUBSCRIBE refused")
            }
            Err(Fail::Fatal(e)) => return Err((plan, e)),
        }
        Ok((plan, errors))
    }
}

/// LIST, NAMESPACE and LSUB of one side.
pub(super) async fn listing(s: &mut ImapSession, role: &str) -> Result<Listing, Stop> {
    mailbox::read_listing(s).await.map_err(|e| {
        let text = format!("could not list the folders of the {role}: {}", e.describe());
        match &e {
            CmdError::Refused { text: server, .. } => Stop::from_refusal(server, text),
            CmdError::Broken(c) => Stop::from_connect(c, text),
        }
    })
}
