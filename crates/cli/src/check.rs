//! `omnichannel check`: every fixture under the given folders through the testkit runner.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use omnichannel_core::ChannelFactory;
use omnichannel_testkit::{Outcome, Registry, Report, fixture_files, run_file};

/// Runs the fixtures and prints, on stdout, one line per fixture (`[i/n] ok|FAIL path
/// (description)`) and last `N passed, M failed`; the differences of a failed fixture go to
/// stderr. Exit 1 if any fixture failed or none was found.
pub async fn run(factories: &[Arc<dyn ChannelFactory>], dirs: &[PathBuf]) -> ExitCode {
    let registry = factories
        .iter()
        .fold(Registry::new(), |r, f| r.with(f.clone()));
    let mut report = Report::default();
    let mut files = Vec::new();
    for dir in dirs {
        match fixture_files(dir) {
            Ok(f) => files.extend(f),
            Err(e) => report.outcomes.push(Outcome {
                path: dir.clone(),
                description: String::new(),
                failures: vec![format!("cannot list fixtures: {e}")],
            }),
        }
    }
    for o in &report.outcomes {
        print_outcome(None, o);
    }
    let total = files.len();
    for (i, f) in files.iter().enumerate() {
        let o = run_file(&registry, f).await;
        print_outcome(Some((i + 1, total)), &o);
        report.outcomes.push(o);
    }
    if report.outcomes.is_empty() {
        eprintln!("error: no fixture (*.json) found under the given folders");
    }
    println!("{}", report.summary());
    if report.failed() > 0 || report.outcomes.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_outcome(progress: Option<(usize, usize)>, o: &Outcome) {
    let width = progress.map_or(1, |(_, n)| n.to_string().len());
    let prefix = match progress {
        Some((i, n)) => format!("[{i:>width$}/{n}] "),
        None => String::new(),
    };
    println!(
        "{prefix}{} {} ({})",
        if o.passed() { "ok  " } else { "FAIL" },
        o.path.display(),
        o.description
    );
    for f in &o.failures {
        eprintln!("  {}: {f}", o.path.display());
    }
}
