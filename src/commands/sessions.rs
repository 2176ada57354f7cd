//! `voxlive sessions list|show|rm`: the saved conversations in the data directory.

use anyhow::Result;

/// `voxlive sessions list|show|rm`.
pub fn run_sessions(args: voxlive::cli::SessionsArgs) -> Result<()> {
    use voxlive::cli::SessionsAction;
    use voxlive::persist::{listing, Store};
    let store = Store::open_default()?;
    let now = time::OffsetDateTime::now_utc();
    match args.action {
        SessionsAction::List => print!("{}", listing::list(&store, now)?),
        SessionsAction::Show { name } => print!("{}", listing::show(&store.load(&name)?, now)),
        SessionsAction::Rm { name } => {
            store.remove(&name)?;
            println!("removed saved session {name}");
        }
    }
    Ok(())
}
