//! Load generator for `VerifyIdentity` over gRPC: drives a running register server
//! (`eid-server registry serve`) with eid-core's gRPC client and prints p50/p99/p99.9 latency
//! and requests per second.
//!
//! ```text
//! EID_REGISTRY_TOKEN=… cargo run --release -p eid-core --example registry_grpc_load -- \
//!     http://127.0.0.1:50051 10000000 42 [connections] [concurrency] [seconds]
//! ```
//!
//! The register must hold the synthetic population of `citizens` and `seed`
//! (`eid-server registry generate`): the claims are regenerated here (one kept per 97
//! citizens), and one request in ten asks for a number the register does not hold. Each
//! in-flight request is one task; tasks are spread over `connections` clients (HTTP/2
//! connections), each task calls `verify` in a loop. After a warm-up of 2 s, every call's
//! latency is recorded; any error is counted and makes the run exit 1. `bench/registry-grpc.sh`
//! builds the register and runs the server and this generator in one command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eid_core::citizen::PersonalId;
use eid_core::registry::grpc::{GrpcRegistry, GrpcRegistryConfig};
use eid_core::registry::{IdentityClaims, Match, PopulationRegistry, SyntheticPopulation};

/// One claim is kept for every `STRIDE` generated citizens.
const STRIDE: usize = 97;
const WARM_UP: Duration = Duration::from_secs(2);

struct Args {
    endpoint: String,
    citizens: u64,
    seed: u64,
    connections: usize,
    concurrency: usize,
    duration: Duration,
}

fn args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: registry_grpc_load ENDPOINT CITIZENS SEED [CONNECTIONS] [CONCURRENCY] [SECONDS]";
    let number = |i: usize, default: u64| -> Result<u64, String> {
        argv.get(i).map_or(Ok(default), |v| {
            v.parse().map_err(|_| format!("{usage}: {v:?}"))
        })
    };
    Ok(Args {
        endpoint: argv.first().ok_or(usage)?.clone(),
        citizens: argv.get(1).ok_or(usage)?.parse().map_err(|_| usage)?,
        seed: argv.get(2).ok_or(usage)?.parse().map_err(|_| usage)?,
        connections: number(3, 2)?.max(1) as usize,
        concurrency: number(4, 64)?.max(1) as usize,
        duration: Duration::from_secs(number(5, 20)?.max(1)),
    })
}

/// Known claims (full pivot identity) and, one in ten, a number absent from the register.
fn claims(citizens: u64, seed: u64) -> Result<Vec<IdentityClaims>, String> {
    let mut claims = Vec::new();
    for (i, record) in SyntheticPopulation::new(citizens, seed)
        .map_err(|e| e.to_string())?
        .step_by(STRIDE)
        .enumerate()
    {
        let record = record.map_err(|e| e.to_string())?;
        if i % 10 == 9 {
            let digits = record.personal_id.expose();
            let random: u32 = digits[6..].parse().map_err(|_| "bad synthetic number")?;
            let other = format!("{}{:06}", &digits[..6], (random + 1) % 1_000_000);
            claims.push(IdentityClaims::new(
                PersonalId::parse(&other).map_err(|e| e.to_string())?,
            ));
        } else {
            claims.push(IdentityClaims::of_identity(
                record.personal_id,
                &record.identity,
            ));
        }
    }
    Ok(claims)
}

/// Calls `verify` in a loop until `end`, returning the latencies measured after `measure_from`
/// and the number of failed calls and wrong answers.
async fn worker(
    registry: Arc<GrpcRegistry>,
    claims: Arc<Vec<IdentityClaims>>,
    first: usize,
    measure_from: Instant,
    end: Instant,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut next = first;
    loop {
        let claim = &claims[next % claims.len()];
        next += 1;
        let start = Instant::now();
        if start >= end {
            return (latencies, errors);
        }
        let answer = registry.verify(claim).await;
        let elapsed = start.elapsed();
        let expected_known = claim.given_name.is_some();
        // A known citizen's claims all match (the synthetic register is mostly active; a
        // non-active record still answers every attribute); an unknown-number probe may hit a
        // real citizen by chance.
        match answer {
            Ok(found @ Match::Found(_)) if expected_known && found.mismatched().is_empty() => {}
            Ok(Match::UnknownNumber | Match::Found(_)) if !expected_known => {}
            Ok(_) | Err(_) => errors += 1,
        }
        if start >= measure_from {
            latencies.push(elapsed);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let token = std::env::var("EID_REGISTRY_TOKEN").ok();
    eprintln!(
        "regenerating the claims of {} citizens (seed {})…",
        args.citizens, args.seed
    );
    let claims = Arc::new(claims(args.citizens, args.seed)?);
    let clients: Vec<Arc<GrpcRegistry>> = (0..args.connections)
        .map(|_| {
            let mut config = GrpcRegistryConfig::new(args.endpoint.clone());
            config.bearer_token = token.clone();
            GrpcRegistry::new(config).map(Arc::new)
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let end = measure_from + args.duration;
    let stride = claims.len() / args.concurrency;
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|i| {
            tokio::spawn(worker(
                clients[i % clients.len()].clone(),
                claims.clone(),
                i * stride,
                measure_from,
                end,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut samples, failed) = task.await?;
        latencies.append(&mut samples);
        errors += failed;
    }
    latencies.sort_unstable();
    if latencies.is_empty() {
        return Err("no call completed".into());
    }
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "VerifyIdentity over gRPC, {} citizens, {} connections, {} in flight, {:.0} s: \
         {} calls, {:.0} requests/s, p50 {:.2?}, p99 {:.2?}, p99.9 {:.2?}, max {:.2?}, {} errors",
        args.citizens,
        args.connections,
        args.concurrency,
        args.duration.as_secs_f64(),
        latencies.len(),
        latencies.len() as f64 / args.duration.as_secs_f64(),
        at(0.50),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1],
        errors
    );
    if errors > 0 {
        return Err(format!("{errors} calls failed or answered wrongly").into());
    }
    Ok(())
}
