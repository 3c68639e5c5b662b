//! Local processes and ports, for the tools that start a cluster (`dtm0
//! cluster up`, the live seed, `dtm0 bench live`) and for the tests that
//! start `dtm0` binaries: free loopback addresses, and a guard that kills
//! and reaps its children when dropped.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, ExitStatus};

/// `k` distinct loopback addresses (127.0.0.1) whose ports were free for
/// both UDP and TCP at the time of the call. The ports are held until all
/// `k` are found, so they differ, then released for the caller to bind
/// (another process may take one in between: the usual race of this trick).
pub fn free_addrs(k: usize) -> Result<Vec<SocketAddr>, String> {
    let mut held: Vec<(TcpListener, UdpSocket)> = Vec::with_capacity(k);
    let mut tries = 0;
    while held.len() < k {
        let tcp =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
        let addr = tcp
            .local_addr()
            .map_err(|e| format!("no free loopback port: {e}"))?;
        match UdpSocket::bind(addr) {
            Ok(udp) => held.push((tcp, udp)),
            // Taken for UDP only: try another port.
            Err(e) => {
                tries += 1;
                if tries > 100 {
                    return Err(format!("no free loopback port: {e}"));
                }
            }
        }
    }
    held.iter()
        .map(|(t, _)| t.local_addr())
        .collect::<io::Result<_>>()
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// One free loopback port (see `free_addrs`).
pub fn free_port() -> Result<u16, String> {
    Ok(free_addrs(1)?[0].port())
}

/// Makes a spawned child die with its parent (Linux `PR_SET_PDEATHSIG`), so
/// that a driver killed by a signal leaves no cluster processes behind.
/// (The signal comes when the thread that spawned the child ends: spawn
/// from the thread that lives as long as the child should.)
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Named child processes, killed (SIGKILL) and reaped when the guard is
/// dropped, whatever way the owner leaves: an error, a panic in a test.
#[derive(Debug, Default)]
pub struct Children {
    procs: Vec<(String, Child)>,
}

impl Children {
    pub fn new() -> Children {
        Children::default()
    }

    /// Spawns `cmd` as `name`, made to die with its parent. A running child
    /// of the same name is killed and reaped first; the new one takes its
    /// place.
    pub fn spawn(&mut self, name: &str, cmd: &mut Command) -> io::Result<()> {
        die_with_parent(cmd);
        let child = cmd.spawn()?;
        match self.procs.iter_mut().find(|(n, _)| n == name) {
            Some((_, old)) => {
                let mut old = std::mem::replace(old, child);
                stop(&mut old);
            }
            None => self.procs.push((name.to_string(), child)),
        }
        Ok(())
    }

    /// `kill -9` of the child `name`, and waits for it to be gone.
    pub fn kill(&mut self, name: &str) -> Result<(), String> {
        let i = self
            .procs
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| format!("{name}: not running"))?;
        let (_, mut c) = self.procs.remove(i);
        let r = c.kill().map_err(|e| format!("kill -9 {name}: {e}"));
        let _ = c.wait();
        r
    }

    /// The children that have exited since the last look, with their
    /// status, in the order they were first spawned; they leave the guard.
    pub fn exited(&mut self) -> Vec<(String, ExitStatus)> {
        let mut out = Vec::new();
        self.procs.retain_mut(|(n, c)| match c.try_wait() {
            Ok(Some(st)) => {
                out.push((n.clone(), st));
                false
            }
            _ => true,
        });
        out
    }

    /// Whether a child of this name is held (it may have exited since).
    pub fn has(&self, name: &str) -> bool {
        self.procs.iter().any(|(n, _)| n == name)
    }

    /// The process id of the child `name`, for signals other than SIGKILL
    /// (`dtm0 nemesis` stops and continues participants).
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.procs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.id())
    }
}

fn stop(c: &mut Child) {
    let _ = c.kill();
    let _ = c.wait();
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            stop(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn free_addrs_are_distinct_loopback_and_bindable() {
        let a = free_addrs(6).unwrap();
        for x in &a {
            assert!(x.ip().is_loopback(), "{x}");
            assert_ne!(x.port(), 0);
        }
        let mut ports: Vec<u16> = a.iter().map(|x| x.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6, "{a:?}");
        UdpSocket::bind(a[0]).expect("free for UDP");
        TcpListener::bind(a[1]).expect("free for TCP");
    }

    fn alive(pid: u32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }

    #[test]
    fn children_are_killed_and_reaped_on_drop_and_exits_are_seen() {
        let mut kids = Children::new();
        kids.spawn("sleeper", Command::new("sleep").arg("600"))
            .unwrap();
        kids.spawn("quick", &mut Command::new("true")).unwrap();
        let pid = kids.procs[0].1.id();
        assert!(alive(pid));
        let deadline = Instant::now() + Duration::from_secs(10);
        let gone = loop {
            let e = kids.exited();
            if !e.is_empty() {
                break e;
            }
            assert!(Instant::now() < deadline, "`true` did not exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].0, "quick");
        assert!(gone[0].1.success());
        assert!(kids.has("sleeper") && !kids.has("quick"));
        assert!(kids.kill("quick").is_err(), "no longer held");
        drop(kids);
        // Reaped, not a zombie: the pid no longer exists.
        assert!(!alive(pid), "the child outlived its guard");
    }
}
