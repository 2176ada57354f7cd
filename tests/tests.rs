//! The one integration-test binary, grouped by topic (ripgrep's layout).

mod access_tests;
mod audio_devices;
mod bad_input_tests;
mod bench_tests;
mod cli_tests;
mod conversation_tests;
mod echo_path;
mod hostile_server_tests;
mod live_e2e;
mod live_resume_e2e;
mod live_tool_e2e;
mod parse_props;
mod persist_tests;
mod ptt_e2e;
mod server_tests;
mod session_tests;
mod setup_tests;
mod soak_tests;
mod speaker;
mod talk_tool_tests;
mod tmux;
mod tool_tests;
mod ui_pty;
mod util;
