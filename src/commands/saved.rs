//! Saved conversations around a command: the session the flags name (new, or continued with `--resume`),
//! its journal handed to the configuration, and its last state written before voxlive exits.

use anyhow::Result;
use voxlive::config::Config;
use voxlive::ui;

/// The configuration of a conversation that is saved (unless `--no-save`): a new session under
/// `--session NAME` or a name from the time, or the one `--resume [NAME]` continues (keeping its model
/// unless `--model` says otherwise).
pub fn resolve_saved(
    common: &voxlive::cli::CommonArgs,
) -> Result<(Config, Option<std::sync::Arc<voxlive::persist::SessionJournal>>)> {
    use voxlive::persist::{Plan, Store};
    let flags = &common.saved;
    let plan = if flags.no_save {
        None
    } else {
        let store = Store::open_default()?;
        Some(match flags.resume.as_deref() {
            Some(name) => Plan::resume(store, Some(name).filter(|n| !n.is_empty()))?,
            None => Plan::new_session(store, flags.session.as_deref())?,
        })
    };
    let mut common = common.clone();
    if let (Some(model), None) = (plan.as_ref().and_then(|p| p.saved_model()), &common.model) {
        common.model = Some(model.to_string());
    }
    let mut config = Config::resolve(&common)?;
    let Some(plan) = plan else {
        return Ok((config, None));
    };
    // on the screen while the terminal UI is up (a log line would wait until it exits), else on stderr
    let notice: voxlive::persist::Notice = Box::new(ui::announce);
    let (resume, journal) = plan.start(&config.model, notice);
    config.resume_from = resume;
    config.journal = Some(voxlive::session::JournalRef(journal.clone()));
    Ok((config, Some(journal)))
}

/// Writes the last state of a saved session before voxlive exits.
pub fn finish_saved(saved: Option<std::sync::Arc<voxlive::persist::SessionJournal>>) {
    if let Some(journal) = saved {
        journal.finish();
    }
}
