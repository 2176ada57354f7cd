//! The one integration-test binary, grouped by topic (ripgrep's layout).

mod cli_tests;
mod server_tests;
mod session_tests;
mod util;
