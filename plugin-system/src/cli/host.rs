//! `plugin-system host DIR`: the PluginManager from a terminal or a script.
//!
//! Loads every plugin folder under DIR, prints a line per plugin to stderr,
//! then reads events as JSON lines on stdin (the Dart `PluginEvent` shape) and
//! writes one JSON line per answering plugin on stdout. At the end of input it
//! unloads everything, those that need others first.

use std::{
    io::{self, BufRead, Write},
    path::PathBuf,
    sync::Arc,
};

use clap::Args;
use plugin_system::{
    core::PluginEvent,
    host::{
        ErrorRecord, LoadReport, ManagerError, PluginManager, PluginState, RestartPolicy,
        StateChange,
    },
    wasm::WasmPluginRuntime,
};
use serde_json::json;

use super::{Failure, RuntimeArgs, terminal};

/// Arguments of `host`.
#[derive(Debug, Args)]
pub(crate) struct HostArgs {
    /// The plugins folder: every folder under it that holds a `plugin.toml`.
    dir: PathBuf,
    /// Prints the plugins and their states to stderr, and exits.
    #[arg(long)]
    list: bool,
    /// Prints the statistics (the Dart keys, and each plugin's numbers) as
    /// JSON on stderr at the end.
    #[arg(long)]
    stats: bool,
    /// Where each plugin's own data folder is made (`DIR/<plugin id>/`), for
    /// plugins granted folders.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Follows DIR while serving: a plugin whose files change is reloaded, a
    /// new plugin folder loaded, a removed one unloaded. Reloads, restarts
    /// and quarantines are reported on stderr, one line each.
    #[arg(long)]
    watch: bool,
    /// Faults (traps, exhausted fuel or time) within the window that put a
    /// plugin in quarantine; before that, each fault restarts it.
    #[arg(long, value_name = "N", default_value_t = 3)]
    max_restarts: u32,
    /// The breaker's window, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    restart_window: u64,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Runs `host`.
pub(crate) fn run(args: &HostArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if !args.dir.is_dir() {
        return Err(Failure::Usage(format!(
            "bad arguments: {} is not a folder",
            args.dir.display()
        )));
    }
    let engine = args.runtime.serving_runtime(true)?;
    let policy = RestartPolicy::default().breaker(
        args.max_restarts,
        std::time::Duration::from_secs(args.restart_window),
    );
    // Every event is sent from the `block_on` below, of a multi-thread
    // runtime, one at a time: idle plugins run on its thread (the default).
    let mut builder = PluginManager::builder()
        .runtime(Arc::new(WasmPluginRuntime::new(engine)))
        .restart_policy(policy);
    if let Some(dir) = &args.data_dir {
        builder = builder.data_dir(dir);
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::Output)?;
    tokio.block_on(async {
        let manager = builder.build();
        let report = manager.load_dir(&args.dir).await;
        print_table(&manager, &report);
        let outcome = if args.list {
            Ok(())
        } else {
            let reporter = tokio::spawn(report_changes(manager.subscribe()));
            let failures = tokio::spawn(report_failures(manager.subscribe_errors()));
            let outcome = match args.watch.then(|| manager.watch(&args.dir)).transpose() {
                Ok(_watch) => serve(&manager, io::stdin().lock(), out).await,
                Err(e) => Err(Failure::Usage(e.to_string())),
            };
            // The unloading at the end is not news.
            reporter.abort();
            failures.abort();
            outcome
        };
        manager.shutdown().await;
        if args.stats {
            print_stats(&manager);
        }
        outcome
    })
}

/// One line on stderr for each change the manager makes on its own while
/// serving: a reload, a restart, a quarantine, a plugin loaded or unloaded by
/// the watcher.
async fn report_changes(mut changes: tokio::sync::broadcast::Receiver<StateChange>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match changes.recv().await {
            Ok(change)
                if change.reason.is_none()
                    && !matches!(change.to, PluginState::Ready | PluginState::Disposed) => {}
            Ok(change) => {
                let mut line = format!("{} {}", change.plugin_id, change.to);
                if let Some(reason) = &change.reason {
                    line.push_str(": ");
                    line.push_str(reason);
                }
                let _ = writeln!(io::stderr(), "{}", terminal::line(&line));
            }
            Err(RecvError::Lagged(missed)) => {
                let _ = writeln!(io::stderr(), "({missed} state changes not shown)");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// One line on stderr for each reload, load or unload the watcher tried and
/// that failed (the old version still serves).
async fn report_failures(mut errors: tokio::sync::broadcast::Receiver<ErrorRecord>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match errors.recv().await {
            Ok(error) if error.context.ends_with("after a change") => {
                let line = format!(
                    "{} {} failed: {}",
                    error.plugin_id, error.context, error.message
                );
                let _ = writeln!(io::stderr(), "{}", terminal::line(&line));
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// One line per plugin on stderr: id, version, state, and why when it is not
/// ready; then the folders that could not be read.
fn print_table(manager: &PluginManager, report: &LoadReport) {
    let mut stderr = io::stderr().lock();
    for plugin in manager.plugins() {
        let mut line = format!("{} {} {}", plugin.id, plugin.version, plugin.state);
        if let Some(reason) = &plugin.reason {
            line.push_str(": ");
            line.push_str(reason);
        }
        let _ = writeln!(stderr, "{}", terminal::line(&line));
    }
    for error in &report.unreadable {
        let _ = writeln!(
            stderr,
            "{}",
            terminal::line(&format!("unreadable: {error}"))
        );
    }
}

/// The manager's statistics (the Dart keys, and each plugin's numbers), as
/// one JSON object on stderr.
fn print_stats(manager: &PluginManager) {
    match serde_json::to_string(&manager.statistics()) {
        Ok(json) => {
            let _ = writeln!(io::stderr(), "{json}");
        }
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: cannot print the statistics: {e}");
        }
    }
}

/// Reads events from `input`, a JSON line each, until it ends.
async fn serve(
    manager: &PluginManager,
    input: impl BufRead,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    for (number, line) in input.lines().enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                writeln!(
                    out,
                    "{}",
                    json!({ "error": format!("cannot read stdin: {e}") })
                )?;
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let event: PluginEvent = match serde_json::from_str(&line) {
            Ok(event) => event,
            Err(e) => {
                let error = format!("line {} is not a JSON event: {e}", number + 1);
                writeln!(out, "{}", json!({ "error": error }))?;
                out.flush()?;
                continue;
            }
        };
        let answers = match event.target_plugin_id.clone() {
            Some(target) => vec![(target.clone(), manager.send_event(&target, event).await)],
            None => manager.dispatch_event(event).await,
        };
        for (id, answer) in answers {
            writeln!(out, "{}", answer_line(&id, answer))?;
        }
        out.flush()?;
    }
    Ok(())
}

/// `{"pluginId": ..., "response": ...}` or `{"pluginId": ..., "error": ...}`.
fn answer_line(
    id: &str,
    answer: Result<plugin_system::core::PluginResponse, ManagerError>,
) -> serde_json::Value {
    match answer.map(|r| serde_json::to_value(&r)) {
        Ok(Ok(response)) => json!({ "pluginId": id, "response": response }),
        Ok(Err(e)) => json!({ "pluginId": id, "error": format!("cannot print the response: {e}") }),
        Err(e) => json!({ "pluginId": id, "error": e.to_string(), "kind": e.kind() }),
    }
}
