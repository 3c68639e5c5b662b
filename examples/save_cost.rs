//! Cost of a participant's commit while its log cannot be pruned (a peer
//! down): the protocol's commit step, which builds the store it saves, and
//! the runtime's `Wal::save` of it (diff, frame, fdatasync), measured as
//! the log grows. The log file lives on `/dev/shm` (or `$SAVE_COST_DIR`)
//! so that the figures are CPU, not the disk.
//!
//! `cargo run --release --example save_cost [records] [per_commit]`
//! (defaults 200000 and 16). Uses only APIs that predate the shared store
//! log, so the same file measures the code before and after it.
use dtm0::live::disk::Wal;
use dtm0::protocol::actor::{Dtm0, Dtm0Store};
use dtm0::protocol::cluster::{Cluster, OriginatorCfg, Variants};
use dtm0::protocol::msg::{Msg, Timer};
use dtm0::protocol::participant::{on_msg, on_start, on_timeout};
use dtm0::protocol::types::{Op, TxId};
use stateright::actor::{Command, Out};
use std::borrow::Cow;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let total = args.first().copied().unwrap_or(200_000);
    let per = args.get(1).copied().unwrap_or(16);
    let c = Cluster {
        one_send_per_step: false,
        may_fail: Vec::new(),
        n: 2,
        originators: vec![OriginatorCfg {
            name: "o".into(),
            plan: vec![],
            first_inc: 1,
            reads: Vec::new(),
        }],
        keys: 100,
        variants: Variants {
            pruning: true,
            ..Variants::default()
        },
        k: 1,
        ghosts: false,
    };
    let dir = std::env::var("SAVE_COST_DIR").unwrap_or_else(|_| "/dev/shm".into());
    let path = std::path::Path::new(&dir).join(format!("save-cost-{}.wal", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let (mut wal, _) = Wal::open(&path).unwrap();
    let mut o = Out::<Dtm0>::new();
    let mut s = Cow::Owned(on_start(&c, 0, &None, &mut o));
    let (mut t_step, mut t_save, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
    let mut ts = 0u64;
    let report_every = total / 10;
    println!("log_records  commit_step_us  wal_save_us  (mean per commit of {per} records)");
    while ts < total {
        for _ in 0..per {
            ts += 1;
            let tx = TxId {
                ts,
                slot: 0,
                inc: 1,
            };
            let op = Op::Put {
                key: 1 + (ts % 100) as u32,
                val: ts,
            };
            let mut o = Out::new();
            on_msg(
                &c,
                0,
                &mut s,
                c.originator_id(0),
                Msg::Execute { to: 1, tx, op },
                &mut o,
            );
        }
        let mut o = Out::new();
        let t0 = Instant::now();
        on_timeout(&c, 0, &mut s, &Timer::Commit, &mut o);
        let t1 = Instant::now();
        for cmd in o.into_iter() {
            if let Command::Save(Dtm0Store::Participant(st)) = cmd {
                wal.save(&st).unwrap();
            }
        }
        t_step += t1 - t0;
        t_save += t1.elapsed();
        n += 1;
        if ts % report_every < per {
            println!(
                "{:>11}  {:>14.1}  {:>11.1}",
                s.log.len(),
                t_step.as_secs_f64() * 1e6 / n as f64,
                t_save.as_secs_f64() * 1e6 / n as f64
            );
            (t_step, t_save, n) = (Duration::ZERO, Duration::ZERO, 0);
        }
    }
    let _ = std::fs::remove_file(&path);
}
