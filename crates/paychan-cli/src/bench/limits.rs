//! The physical limits a payment cannot beat on this machine, measured in the same run as the
//! payments: voucher sign + recover per second (one core and all cores), `fsync`s per second
//! in the data directory, and the loopback TCP round-trip time.

use std::{
    io::{Read, Seek, SeekFrom, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

use paychan_core::{
    Address, B256, ChannelId, Domain, SigningKey, Voucher, eip712::Eip712, keccak256,
};

use super::cpu;

/// What one run measured.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub(crate) struct Limits {
    /// Threads used for the all-cores figure.
    pub(crate) cores: usize,
    /// Voucher sign + recover pairs per second on one thread.
    pub(crate) sign_recover_one_core: f64,
    /// Voucher sign + recover pairs per second on all cores together.
    pub(crate) sign_recover_all_cores: f64,
    /// CPU time of one sign + recover pair, microseconds (of the signing threads' own CPU
    /// time: unaffected by other processes taking turns on the cores).
    pub(crate) sign_recover_cpu_us: f64,
    /// `fsync`s (`fdatasync`) of a 4 KiB write per second, in the data directory.
    pub(crate) fsyncs_per_second: f64,
    /// The same, measured again right before the run with durability full (the disk is
    /// shared: its rate moves with what else writes).
    pub(crate) fsyncs_per_second_later: Option<f64>,
    /// Median loopback TCP round trip (64 bytes each way, blocking sockets), microseconds.
    pub(crate) loopback_rtt_us: f64,
}

impl Limits {
    /// Microseconds of one sign + one recover on one core.
    pub(crate) fn sign_recover_us(&self) -> f64 {
        1e6 / self.sign_recover_one_core.max(1e-9)
    }

    /// Microseconds of one `fsync`, at the faster of the two measurements (a limit must not
    /// be set by a moment the disk was busy with someone else's writes).
    pub(crate) fn fsync_us(&self) -> f64 {
        let rate = self
            .fsyncs_per_second_later
            .map_or(self.fsyncs_per_second, |later| {
                later.max(self.fsyncs_per_second)
            });
        1e6 / rate.max(1e-9)
    }
}

/// Measures every limit, each for about `each`.
pub(crate) fn measure(dir: &Path, each: Duration) -> Result<Limits> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (sign_recover_one_core, _) = sign_recover(1, each)?;
    let (sign_recover_all_cores, sign_recover_cpu_us) = sign_recover(cores, each)?;
    let fsyncs_per_second = fsyncs(dir, each)?;
    let loopback_rtt_us = loopback_rtt(each)?;
    Ok(Limits {
        cores,
        sign_recover_one_core,
        sign_recover_all_cores,
        sign_recover_cpu_us,
        fsyncs_per_second,
        fsyncs_per_second_later: None,
        loopback_rtt_us,
    })
}

/// Sign + recover pairs per second over `threads` threads, each signing vouchers of its own,
/// and the CPU microseconds of one pair.
fn sign_recover(threads: usize, each: Duration) -> Result<(f64, f64)> {
    let domain = Domain::new(1337, Address::repeat_byte(0xad));
    let began = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || -> Result<(u64, Duration)> {
                let cpu0 = cpu::thread()?;
                let key = SigningKey::from_entropy(
                    keccak256([b"bench-limit".as_slice(), &t.to_be_bytes()].concat()).as_slice(),
                )?;
                let mut voucher = Voucher {
                    channel_id: ChannelId(keccak256(t.to_be_bytes())),
                    payer: key.address(),
                    cumulative: 0,
                    sequence: 0,
                    memo: B256::ZERO,
                };
                let mut done = 0u64;
                let start = Instant::now();
                while start.elapsed() < each {
                    voucher.sequence = voucher.sequence.saturating_add(1);
                    voucher.cumulative = voucher.cumulative.saturating_add(1);
                    let signature = voucher.sign(&domain, &key);
                    let signer = voucher.recover(&domain, &signature)?;
                    anyhow::ensure!(signer == key.address(), "recovered a foreign signer");
                    done = done.saturating_add(1);
                }
                Ok((done, cpu::thread()?.saturating_sub(cpu0)))
            })
        })
        .collect();
    let (mut total, mut cpu) = (0u64, Duration::ZERO);
    for worker in workers {
        let (done, used) = worker
            .join()
            .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
        total = total.saturating_add(done);
        cpu = cpu.saturating_add(used);
    }
    Ok((
        total as f64 / began.elapsed().as_secs_f64().max(1e-9),
        cpu.as_secs_f64() * 1e6 / (total.max(1) as f64),
    ))
}

/// `fdatasync`s per second of a 4 KiB overwrite in `dir` (the filesystem of the stores).
pub(crate) fn fsyncs(dir: &Path, each: Duration) -> Result<f64> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let block = [0x5au8; 4096];
    let mut done = 0u64;
    let start = Instant::now();
    while start.elapsed() < each {
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&block)?;
        file.sync_data()?;
        done = done.saturating_add(1);
    }
    let rate = done as f64 / start.elapsed().as_secs_f64().max(1e-9);
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(rate)
}

/// Median round trip of 64 bytes over loopback TCP (no Nagle), between two threads.
fn loopback_rtt(each: Duration) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut buf = [0u8; 64];
        loop {
            match stream.read_exact(&mut buf) {
                Ok(()) => stream.write_all(&buf)?,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    });
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut buf = [7u8; 64];
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < each || samples.len() < 100 {
        let sent = Instant::now();
        stream.write_all(&buf)?;
        stream.read_exact(&mut buf)?;
        samples.push(sent.elapsed());
    }
    drop(stream);
    echo.join()
        .map_err(|_| anyhow::anyhow!("the echo thread panicked"))??;
    samples.sort_unstable();
    let median = samples
        .get(samples.len() / 2)
        .copied()
        .unwrap_or(Duration::ZERO);
    Ok(median.as_secs_f64() * 1e6)
}
