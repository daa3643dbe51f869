//! `stellar-monitor`: parse the command line, run the command, and turn any failure into
//! one clear `error:` line and a non-zero exit.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use stellar_monitor::config::{Cli, Command};
use stellar_monitor::database::{self, Target};
use stellar_monitor::{bench, bootstrap, check, oz, roles, shutdown, startup, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logs(cli.global.log_format, &cli.global.log_filter);
    // The recorder first: metrics set while starting up (baselines) must not be lost.
    telemetry::metrics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the context chain into one line.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(serve) => {
            let app = startup::Application::build(&cli.global, &serve).await?;
            if let Some(created) = app.created() {
                let url = format!("http://{}/graphql", app.local_addr());
                println!("{}", bootstrap::banner(created, &url));
            }
            app.run_until_stopped(shutdown::on_signal()).await
        }
        Command::Api(serve) => {
            if cli.global.database_url.is_none() || serve.bus.redis_url.is_none() {
                anyhow::bail!(
                    "the api role serves a fleet: set DATABASE_URL (PostgreSQL) and REDIS_URL \
                     (use `serve` for everything in one process)"
                );
            }
            let app = startup::Application::build_api(&cli.global, &serve).await?;
            if let Some(created) = app.created() {
                let url = format!("http://{}/graphql", app.local_addr());
                println!("{}", bootstrap::banner(created, &url));
            }
            app.run_until_stopped(shutdown::on_signal()).await
        }
        Command::Bench(command) => {
            println!("{}", bench::run(command).await?);
            Ok(())
        }
        Command::Check { dir } => {
            let (report, valid) = check::check(&dir);
            print!("{report}");
            if valid {
                Ok(())
            } else {
                anyhow::bail!("{} has invalid files", dir.display())
            }
        }
        Command::Import {
            dir,
            tenant,
            security,
        } => {
            print!(
                "{}",
                oz::import_dir(&cli.global, &security, &dir, &tenant).await?
            );
            Ok(())
        }
        Command::Export {
            tenant,
            dir,
            security,
        } => {
            print!(
                "{}",
                oz::export_dir(&cli.global, &security, &tenant, &dir).await?
            );
            Ok(())
        }
        Command::Watcher(args) => roles::watcher(&cli.global, &args, shutdown::on_signal()).await,
        Command::Worker(args) => roles::worker(&cli.global, &args, shutdown::on_signal()).await,
        Command::Orchestrator(args) => {
            roles::orchestrator(&cli.global, &args, shutdown::on_signal()).await
        }
        Command::TestMonitor {
            monitor,
            network,
            block,
            to,
        } => {
            print!(
                "{}",
                check::test_monitor(&monitor, &network, block, to).await?
            );
            Ok(())
        }
        Command::Migrate => {
            let target = Target::resolve(cli.global.database_url.as_deref(), &cli.global.data_dir)?;
            let db = database::connect(&target, 2).await?;
            database::migrate(&db).await?;
            println!("migrations applied to {}", target.describe());
            Ok(())
        }
    }
}
