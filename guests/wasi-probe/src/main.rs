//! `wasi-probe <command> [args...]`: a WASI preview 1 command with one
//! behaviour per command, so that the runtime's tests can check exact output.
//!
//! I/O errors print `error: <ErrorKind debug name>: <message>` to stderr and
//! exit with status 1; an unknown command or wrong arguments print the usage
//! to stderr and exit with status 2.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
usage: wasi-probe <command> [args...]
commands:
  args [ARGS...]        print argv (argv[0] too), one element per line
  env                   print the environment as K=V, sorted
  cat                   copy stdin to stdout
  stderr TEXT           print TEXT to stderr
  write PATH TEXT       create or truncate PATH and write TEXT
  append PATH TEXT      append TEXT to PATH (created if missing)
  read PATH             print the bytes of PATH
  ls DIR                print the sorted entry names of DIR
  mkdir PATH            create a directory
  rm PATH               remove a file
  rename FROM TO        rename a file or directory
  symlink TARGET LINK   create a symbolic link LINK pointing to TARGET
  stat PATH             print `file <len>` or `dir`
  clock                 print the wall clock and check the monotonic clock
  random N              print N random bytes as hex
  exit N                exit with status N
  panic                 panic with the message `probe panic`
  sleep MS              sleep MS milliseconds, then print `slept`
  spin                  loop forever
  alloc MB              allocate and touch MB mebibytes
  recurse N             recurse N calls deep and print the depth
";

/// How a command failed.
enum Failure {
    /// Wrong command or arguments: usage, exit 2.
    Usage,
    /// An I/O error: its kind and message, exit 1.
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage) => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Io(e)) => {
            eprintln!("error: {:?}: {e}", e.kind());
            ExitCode::from(1)
        }
    }
}

fn run(argv: &[String]) -> Result<(), Failure> {
    let command = argv.get(1).map(String::as_str).ok_or(Failure::Usage)?;
    let rest: Vec<&str> = argv.iter().skip(2).map(String::as_str).collect();
    let mut out = io::stdout().lock();
    match (command, rest.as_slice()) {
        ("args", _) => {
            for arg in argv {
                writeln!(out, "{arg}")?;
            }
        }
        ("env", []) => {
            let mut vars: Vec<(String, String)> = std::env::vars().collect();
            vars.sort();
            for (k, v) in vars {
                writeln!(out, "{k}={v}")?;
            }
        }
        ("cat", []) => {
            io::copy(&mut io::stdin().lock(), &mut out)?;
        }
        ("stderr", [text]) => {
            let mut err = io::stderr().lock();
            writeln!(err, "{text}")?;
            err.flush()?;
        }
        ("write", [path, text]) => std::fs::write(path, text)?,
        ("append", [path, text]) => {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)?;
            file.write_all(text.as_bytes())?;
        }
        ("read", [path]) => {
            let mut file = std::fs::File::open(path)?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            out.write_all(&bytes)?;
        }
        ("ls", [dir]) => {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                names.push(entry?.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            for name in names {
                writeln!(out, "{name}")?;
            }
        }
        ("mkdir", [path]) => std::fs::create_dir(path)?,
        ("rm", [path]) => std::fs::remove_file(path)?,
        ("rename", [from, to]) => std::fs::rename(from, to)?,
        ("symlink", [target, link]) => symlink(target, link)?,
        ("stat", [path]) => {
            let meta = std::fs::metadata(path)?;
            if meta.is_dir() {
                writeln!(out, "dir")?;
            } else {
                writeln!(out, "file {}", meta.len())?;
            }
        }
        ("clock", []) => {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(io::Error::other)?;
            writeln!(out, "realtime {}", since_epoch.as_secs())?;
            let first = Instant::now();
            let second = Instant::now();
            if second >= first {
                writeln!(out, "monotonic ok")?;
            } else {
                writeln!(out, "monotonic went backwards")?;
            }
        }
        ("random", [n]) => {
            let n: usize = n.parse().map_err(|_| Failure::Usage)?;
            let bytes = random_bytes(n)?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            writeln!(out, "{hex}")?;
        }
        ("exit", [n]) => {
            let code: i32 = n.parse().map_err(|_| Failure::Usage)?;
            out.flush()?;
            std::process::exit(code);
        }
        ("panic", []) => panic!("probe panic"),
        ("sleep", [ms]) => {
            let ms: u64 = ms.parse().map_err(|_| Failure::Usage)?;
            std::thread::sleep(std::time::Duration::from_millis(ms));
            writeln!(out, "slept")?;
        }
        ("spin", []) => {
            let mut counter = 0u64;
            loop {
                counter = black_box(counter.wrapping_add(1));
            }
        }
        ("alloc", [mb]) => {
            let mb: usize = mb.parse().map_err(|_| Failure::Usage)?;
            let len = mb.checked_mul(1 << 20).ok_or(Failure::Usage)?;
            let mut block = vec![0u8; len];
            // WebAssembly pages are 64 KiB; touching every 4 KiB covers them
            // and any host page size too.
            for i in (0..len).step_by(4096) {
                block[i] = 1;
            }
            black_box(&mut block);
            writeln!(out, "allocated {mb}")?;
        }
        ("recurse", [n]) => {
            let n: u64 = n.parse().map_err(|_| Failure::Usage)?;
            writeln!(out, "{}", recurse(black_box(n)))?;
        }
        _ => return Err(Failure::Usage),
    }
    out.flush()?;
    Ok(())
}

/// Recurses `n` calls deep and returns `n`; the addition after the call keeps
/// it from being a tail call and `black_box` keeps each frame.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let mut frame = [n; 4];
    black_box(&mut frame);
    black_box(recurse(black_box(n - 1))) + 1
}

/// Creates `link` pointing to `target`.
///
/// `std::os::wasi::fs::symlink_path` is unstable (`wasi_ext`), and
/// `std::fs::soft_link` is the one stable, portable call: deprecated only in
/// favour of the per-OS functions, and on WASI it maps to `path_symlink`.
fn symlink(target: &str, link: &str) -> io::Result<()> {
    #[allow(deprecated)]
    std::fs::soft_link(target, link)
}

#[cfg(target_os = "wasi")]
fn random_bytes(n: usize) -> io::Result<Vec<u8>> {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn random_get(buf: *mut u8, len: usize) -> u16;
    }
    let mut bytes = vec![0u8; n];
    // SAFETY: `bytes` is a live, writable buffer of exactly `n` bytes.
    let errno = unsafe { random_get(bytes.as_mut_ptr(), n) };
    if errno != 0 {
        return Err(io::Error::from_raw_os_error(i32::from(errno)));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn random_bytes(n: usize) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}
