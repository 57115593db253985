//! `imapcopy`: the web service and the operator's commands.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use leptos::config::LeptosOptions;
use tracing_subscriber::EnvFilter;

use imapcopy::config::ServeArgs;
use imapcopy::web::{self, drafts::DraftStore, ratelimit::RateLimiter, wizard::WizardService};

#[derive(Debug, Parser)]
#[command(name = "imapcopy", version, about = "Copy every folder and message of one IMAP mailbox into another")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web application (the default).
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Some(Command::Serve(args)) => runtime.block_on(serve(args)),
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
        if let Some(addr) = std::env::var("LEPTOS_SITE_ADDR").ok().and_then(|a| a.parse().ok()) {
            args.listen = addr;
        }
    }
    let connect = Arc::new(args.connect_options()?);
    let db = imapcopy::db::open(&args.data_dir)?;
    let sealer = imapcopy::seal::Sealer::from_key_file(&args.key_file())?;
    let jobs = Arc::new(imapcopy::jobs::store::Store::new(db, sealer, Arc::new(imapcopy::jobs::store::SystemClock)));

    let cookie_attributes = if args.secure_cookies { "; Secure".to_string() } else { String::new() };
    let service = WizardService {
        drafts: DraftStore::new(Duration::from_secs(app::api::backend::DRAFT_MAX_AGE_SECS)),
        jobs: jobs.clone(),
        connect,
        validate_limit: RateLimiter::new(args.validate_per_minute, Duration::from_secs(60)),
        check_timeout: Duration::from_secs(args.check_timeout_secs),
        cookie_attributes,
    };
    let backend = web::shared(service);

    let site_root = args.site_root.to_string_lossy().to_string();
    if !args.site_root.join("pkg").join("imapcopy.js").exists() {
        tracing::warn!(site_root, "pkg/imapcopy.js not found: run `make build` (pages will render without hydration)");
    }
    let options = LeptosOptions::builder()
        .output_name("imapcopy")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(args.listen)
        .env(leptos::config::Env::PROD)
        .build();
    let app = web::router(options, backend);

    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        data_dir = %args.data_dir.display(),
        allow_private_networks = args.allow_private_networks,
        "IMAPCopy serving on http://{}",
        listener.local_addr()?
    );
    web::serve(listener, app, shutdown_signal()).await
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
