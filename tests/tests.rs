//! The single integration-test binary (autotests = false); one module per topic.

mod server_tests;
