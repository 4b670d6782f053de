//! Loads a synthetic population into an embedded register and reports the time taken.
//!
//! ```text
//! cargo run --release -p eid-core --example load_register -- [COUNT] [SEED] [PATH|:memory:]
//! ```
//!
//! Defaults: 1,000,000 citizens, seed 42, a fresh file in a temporary directory.

use std::error::Error;
use std::time::Instant;

use eid_core::registry::{EmbeddedRegistry, RegisterLocation};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(42), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let location: RegisterLocation = match args.next() {
        Some(path) => path.parse()?,
        None => RegisterLocation::File(dir.path().join("register.sqlite")),
    };
    println!("loading {count} synthetic citizens (seed {seed}) into {location:?}");
    let registry = EmbeddedRegistry::open(location).await?;
    let start = Instant::now();
    let loaded = registry.load_synthetic(count, seed).await?;
    let elapsed = start.elapsed();
    println!(
        "loaded {loaded} citizens in {:.2} s ({:.0} citizens/s); register holds {}",
        elapsed.as_secs_f64(),
        loaded as f64 / elapsed.as_secs_f64(),
        registry.count().await?
    );
    Ok(())
}
