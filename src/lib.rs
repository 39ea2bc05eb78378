//! latchkey: a self-hosted identity server speaking Auth0's Authentication API.

pub mod config;
pub mod domain;
pub mod http;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tenant_file;
pub mod tls;

/// jemalloc instead of glibc's malloc, set here (not in `main.rs`) so the tests and benchmarks
/// run the allocator the server runs. Requests allocate in many small pieces across hyper,
/// axum, tower and serde; with glibc each `/userinfo` cost 0.058 ms of CPU and each
/// client_credentials grant 0.357 ms, with jemalloc 0.049 and 0.345 ms (`--mode tokens`,
/// alternating builds; see the README's Performance section), for ~2 MiB more idle RSS.
/// mimalloc gained less here and its idle RSS was 34–44 MiB.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
