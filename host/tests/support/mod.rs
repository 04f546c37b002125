//! Test doubles of the outside world for the host's integration tests (`mod support;`).
#![allow(dead_code)]

pub mod fake_digitalocean;
