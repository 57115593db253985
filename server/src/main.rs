//! `imapcopy`: the web service and the operator's commands.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use leptos::config::LeptosOptions;
use tracing_subscriber::EnvFilter;

use imapcopy::config::ServeArgs;
use imapcopy::jobs::runner::{Runner, RunnerConfig};
use imapcopy::jobs::JobStore;
use imapcopy::web::{
    self,
    drafts::DraftStore,
    wizard::{Limits, WizardService},
};

#[derive(Debug, Parser)]
#[command(
    name = "imapcopy",
    version,
    about = "Copy every folder and message of one IMAP mailbox into another"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web application and run copy jobs (the default).
    Serve(Box<ServeArgs>),
    /// List jobs, or cancel one.
    Jobs(JobsArgs),
    /// Copy one mailbox into another from the command line. Passwords come from
    /// $IMAPCOPY_FROM_PASSWORD / $IMAPCOPY_TO_PASSWORD or password files, never argv.
    /// Exit status: 0 complete, 3 complete with rejections, 1 incomplete.
    Copy(Box<imapcopy::cli::CopyArgs>),
}

#[derive(Debug, clap::Args)]
struct JobsArgs {
    /// Directory of the SQLite database.
    #[arg(long, env = "IMAPCOPY_DATA_DIR", default_value = "data", global = true)]
    data_dir: std::path::PathBuf,
    #[command(subcommand)]
    action: Option<JobsAction>,
}

#[derive(Debug, Subcommand)]
enum JobsAction {
    /// List the most recent jobs (the default).
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Cancel a queued job, or ask a running one to stop.
    Cancel { id: String },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Rendering a page walks its nested view types recursively: room to spare beyond the
    // default 2 MiB per worker.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()?;
    match cli.command {
        Some(Command::Serve(args)) => runtime.block_on(serve(*args)),
        Some(Command::Jobs(args)) => runtime.block_on(jobs(args)),
        Some(Command::Copy(args)) => {
            let code = runtime.block_on(imapcopy::cli::run(*args))?;
            std::process::exit(code)
        }
        None => runtime.block_on(serve(ServeArgs::parse_from_env())),
    }
}

trait FromEnv {
    fn parse_from_env() -> Self;
}

impl FromEnv for ServeArgs {
    fn parse_from_env() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        Only::parse_from(["imapcopy"]).args
    }
}

async fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    // Under `cargo leptos watch|serve`, cargo-leptos tells the server where the site is through
    // its own variables; honour them when ours are not set.
    if std::env::var_os("IMAPCOPY_SITE_ROOT").is_none() {
        if let Some(root) = std::env::var_os("LEPTOS_SITE_ROOT") {
            args.site_root = root.into();
        }
    }
    if std::env::var_os("IMAPCOPY_LISTEN").is_none() {
        if let Some(addr) = std::env::var("LEPTOS_SITE_ADDR")
            .ok()
            .and_then(|a| a.parse().ok())
        {
            args.listen = addr;
        }
    }
    let connect = Arc::new(args.connect_options()?);
    let web_config = args.web_config()?;
    let providers = args.oauth2_providers()?;
    for client in providers.enabled() {
        tracing::info!(provider = %client.spec.id, redirect_uri = %client.redirect_uri, "OAuth2 sign-in enabled");
    }
    let serve_limits = args.serve_limits()?;
    let db = imapcopy::db::open(&args.data_dir)?;
    let sealer = imapcopy::seal::Sealer::from_key_file(&args.key_file())?;
    let jobs: Arc<dyn JobStore> = Arc::new(imapcopy::jobs::store::Store::new(
        db,
        sealer,
        Arc::new(imapcopy::jobs::store::SystemClock),
    ));

    let shutdown = mailcopy::copy::CancellationToken::new();
    let reporter = imapcopy::report::Reporter {
        store: jobs.clone(),
        connect: connect.clone(),
        delivery: args.delivery()?,
        settings: imapcopy::report::ReportSettings {
            public_url: args.public_url(),
            time_zone: imapcopy::report::dates::time_zone(&args.report_time_zone)
                .context("--report-time-zone")?,
        },
        from: args
            .report_from
            .parse()
            .with_context(|| format!("--report-from {:?}", args.report_from))?,
        attempts: 3,
        retry_delay: Duration::from_secs(10),
    };
    let runner = Arc::new(Runner {
        store: jobs.clone(),
        connect: connect.clone(),
        config: RunnerConfig {
            concurrency: args.jobs.max(1),
            copy: mailcopy::copy::CopyOptions {
                connections: args.connections.max(1),
                pacing: args.pacing.pacing(),
                ..Default::default()
            },
            providers: providers.clone(),
            daily_limit_pause: std::time::Duration::from_secs(args.daily_limit_pause_secs.max(1)),
            ..RunnerConfig::default()
        },
        after: Some(Arc::new(reporter)),
    });
    let runner_task = tokio::spawn(runner.run(shutdown.clone()));

    let cookie_attributes = if args.secure_cookies {
        "; Secure".to_string()
    } else {
        String::new()
    };
    let service = WizardService {
        drafts: DraftStore::new(Duration::from_secs(app::api::backend::DRAFT_MAX_AGE_SECS)),
        jobs: jobs.clone(),
        connect,
        limits: Limits::per_minute(
            args.validate_per_minute,
            args.synchronize_per_minute,
            args.lookup_per_minute,
        ),
        check_timeout: Duration::from_secs(args.check_timeout_secs),
        cookie_attributes,
        smtp_reports: args.smtp_host.is_some(),
        sign_in: imapcopy::web::sign_in::SignIn::new(providers)?,
        volumes: args.pacing.pacing().map(|p| p.volumes),
    };
    let backend = web::shared(service);

    let site_root = args.site_root.to_string_lossy().to_string();
    if !args.site_root.join("pkg").join("imapcopy.js").exists() {
        tracing::warn!(
            site_root,
            "pkg/imapcopy.js not found: run `make build` (pages will render without hydration)"
        );
    }
    let options = LeptosOptions::builder()
        .output_name("imapcopy")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(args.listen)
        .env(leptos::config::Env::PROD)
        .build();
    let app = web::router(options, backend, &web_config);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        data_dir = %args.data_dir.display(),
        allow_private_networks = args.allow_private_networks,
        "IMAPCopy serving on http://{}",
        listener.local_addr()?
    );
    let stop = shutdown.clone();
    web::serve(listener, app, serve_limits, async move {
        shutdown_signal().await;
        stop.cancel();
    })
    .await?;
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(9), runner_task).await;
    Ok(())
}

async fn jobs(args: JobsArgs) -> anyhow::Result<()> {
    use imapcopy::jobs::store::{Store, SystemClock};
    let db = imapcopy::db::open(&args.data_dir)?;
    // Listing and cancelling never open secrets: an ephemeral key is enough here.
    let store: Arc<dyn JobStore> = Arc::new(Store::new(
        db,
        imapcopy::seal::Sealer::ephemeral(),
        Arc::new(SystemClock),
    ));
    match args.action.unwrap_or(JobsAction::List { limit: 50 }) {
        JobsAction::List { limit } => {
            println!(
                "{:<24}  {:<9}  {:>9}  {:<19}  {:<32}  destination",
                "id", "state", "progress", "created (UTC)", "source"
            );
            for job in store.list(limit).await? {
                let progress: app::model::ProgressView = job
                    .progress
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_default();
                let created = imapcopy::report::format_time(job.created_at);
                println!(
                    "{:<24}  {:<9}  {:>8}%  {:<19}  {:<32}  {}",
                    job.id,
                    job.state.as_str(),
                    progress.percent(),
                    created.get(..19).unwrap_or(&created),
                    job.source_address,
                    imapcopy::jobs::store::source_address(
                        &job.destination.login,
                        &job.destination.host
                    )
                );
            }
            Ok(())
        }
        JobsAction::Cancel { id } => match store.cancel(&id).await? {
            Some(state) => {
                println!(
                    "{id}: {}",
                    if state == imapcopy::jobs::state::JobState::Running {
                        "stop requested"
                    } else {
                        state.as_str()
                    }
                );
                Ok(())
            }
            None => anyhow::bail!("no job {id}"),
        },
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
