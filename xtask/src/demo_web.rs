//! `cargo xtask demo-web [--port N] [--check]`: the editor demo in a web page.
//!
//! Builds the guests and `examples/web-demo` for wasm32-unknown-unknown, binds
//! it with `wasm-bindgen --target web` into `<target>/demo-web/` beside
//! `index.html`, and serves that folder on `127.0.0.1` (port 8421 unless
//! `--port`) until interrupted. With `--check` it serves on a free port
//! instead, drives headless Chromium there through chromedriver (W3C
//! WebDriver), types into the text box, waits for the plugins' answers,
//! checks them, saves `<target>/demo-web/screenshot.png`, and fails with a
//! clear message on anything amiss.
//!
//! The WebDriver client is a few JSON requests over a plain `TcpStream`
//! (one request per connection, its reply read by its length) with `serde_json`: the check needs six
//! endpoints of a local chromedriver, and a client crate (`fantoccini`,
//! `thirtyfour`) would bring an async runtime and a TLS stack into xtask,
//! which the conventions keep small.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{cargo, guests, run_command, template, test_web};

/// The port `cargo xtask demo-web` serves on without `--port`.
const DEFAULT_PORT: u16 = 8421;

/// What the check types, and what the plugins must answer to it.
const TYPED: &str = "hello plugins\nin a page";
const EXPECTED: [(&str, &str); 3] = [
    ("plugin.word-count", "words=5"),
    ("plugin.line-count-c", "lines=2"),
    ("plugin.file-icons-wasm", "icon=devicon-rust-plain"),
];

/// How long the check waits for the page, then for the answers.
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut check = false;
    let mut port = DEFAULT_PORT;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--port" => {
                let value = args.next().context("--port needs a number")?;
                port = value
                    .parse()
                    .with_context(|| format!("--port {value}: not a port number"))?;
            }
            other => bail!("demo-web: unknown argument `{other}` (--port N, --check)"),
        }
    }
    guests::build()?;
    let site = build_page()?;
    let listener = TcpListener::bind(("127.0.0.1", if check { 0 } else { port }))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let url = format!("http://{}/", listener.local_addr()?);
    let serving = site.clone();
    std::thread::spawn(move || serve(&listener, &serving));
    if check {
        return check_page(&url, &site);
    }
    eprintln!("The editor demo is served at {url} (Ctrl-C stops it)");
    loop {
        std::thread::park();
    }
}

/// Builds the page into `<target>/demo-web/`: the bound module, its
/// JavaScript, and `index.html`.
fn build_page() -> Result<PathBuf> {
    cargo(&[
        "build",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "web-demo",
    ])?;
    let target = template::target_dir()?;
    let site = target.join("demo-web");
    std::fs::create_dir_all(&site).with_context(|| format!("cannot create {}", site.display()))?;
    let module = target.join("wasm32-unknown-unknown/debug/web_demo.wasm");
    run_command(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&site)
            .arg(&module),
    )
    .context("wasm-bindgen failed: run scripts/setup.sh for wasm-bindgen-cli")?;
    std::fs::write(site.join("index.html"), include_str!("demo_web/index.html"))
        .context("cannot write index.html")?;
    Ok(site)
}

/// Serves the files under `site`, a thread per connection: a browser may
/// open a connection it sends nothing on, which must hold up no other.
fn serve(listener: &TcpListener, site: &Path) {
    for stream in listener.incoming().flatten() {
        let site = site.to_owned();
        std::thread::spawn(move || {
            if let Err(e) = answer(stream, &site) {
                eprintln!("demo-web: a request failed: {e:#}");
            }
        });
    }
}

fn answer(mut stream: TcpStream, site: &Path) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        name => name.split('?').next().unwrap_or(name),
    };
    // wasm-bindgen puts inline JavaScript under `snippets/`; nothing hidden,
    // nothing above `site`.
    let inside = name
        .split('/')
        .all(|part| !part.is_empty() && !part.starts_with('.') && !part.contains('\\'));
    let file = inside
        .then(|| site.join(name))
        .and_then(|file| std::fs::read(file).ok());
    let kind = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let (status, kind, body) = match file {
        Some(body) => ("200 OK", kind, body),
        None => ("404 Not Found", "text/plain", b"not found".to_vec()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    Ok(())
}

/// Opens `url` in headless Chromium, types, waits for the answers, checks
/// them and saves a screenshot in `site`.
fn check_page(url: &str, site: &Path) -> Result<()> {
    let chromedriver = test_web::find_on_path("chromedriver").context(
        "chromedriver is missing: run scripts/setup.sh (Debian: chromium chromium-driver)",
    )?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let driver = Driver::start(&chromedriver, port)?;
    let outcome = driver.session().and_then(|session| {
        let checked = drive(&driver, &session, url, site);
        let closed = driver.send("DELETE", &format!("/session/{session}"), None);
        checked.and(closed.map(drop))
    });
    drop(driver);
    outcome?;
    eprintln!(
        "demo-web --check: the page answered as expected; screenshot in {}",
        site.join("screenshot.png").display()
    );
    Ok(())
}

fn drive(driver: &Driver, session: &str, url: &str, site: &Path) -> Result<()> {
    let at = |path: &str| format!("/session/{session}{path}");
    driver.send("POST", &at("/url"), Some(json!({ "url": url })))?;
    let status = wait_for("the page to load its plugins", || {
        let text = driver.text(session, "#status")?;
        if text.starts_with("error") {
            bail!("the page failed: {text}");
        }
        Ok(text.starts_with("ready").then_some(text))
    })?;
    eprintln!("demo-web --check: {status}");
    let text_box = driver.element(session, "#text")?;
    driver.send(
        "POST",
        &at(&format!("/element/{text_box}/value")),
        Some(json!({ "text": TYPED })),
    )?;
    let shown = wait_for("the plugins' answers", || {
        let shown = driver.text(session, "#answers")?;
        let complete = EXPECTED.iter().all(|(id, expected)| {
            shown
                .lines()
                .any(|line| line.starts_with(id) && line.contains(expected))
        });
        Ok(complete.then_some(shown))
    });
    let screenshot = driver.send("GET", &at("/screenshot"), None)?;
    let png = decode_base64(screenshot.as_str().context("a screenshot as base64")?)?;
    let path = site.join("screenshot.png");
    std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
    let shown = shown.with_context(|| {
        format!(
            "expected {EXPECTED:?} after typing {TYPED:?}; see {}",
            path.display()
        )
    })?;
    eprintln!("demo-web --check: the page shows\n{shown}");
    Ok(())
}

/// Polls `ready` until it gives a value or [`PAGE_TIMEOUT`] passes.
fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < PAGE_TIMEOUT {
        match ready() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) if e.to_string().starts_with("the page failed") => return Err(e),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let last = last.map_or_else(String::new, |e| format!(" (last: {e:#})"));
    bail!("timed out after {PAGE_TIMEOUT:?} waiting for {what}{last}")
}

/// A chromedriver of our own, ended when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(chromedriver: &Path, port: u16) -> Result<Self> {
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", chromedriver.display()))?;
        let driver = Driver { child, port };
        wait_for("chromedriver to start", || {
            let status = driver.send("GET", "/status", None)?;
            Ok((status["ready"] == true).then_some(()))
        })?;
        Ok(driver)
    }

    /// A new headless Chromium session: its id.
    fn session(&self) -> Result<String> {
        // `--no-sandbox`: Chromium's sandbox cannot start as root in a container.
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "args": [
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1000,800"
            ] }
        } } });
        let session = self.send("POST", "/session", Some(capabilities))?;
        session["sessionId"]
            .as_str()
            .map(str::to_owned)
            .context("chromedriver gave no session id")
    }

    /// The id of the element `css` selects.
    fn element(&self, session: &str, css: &str) -> Result<String> {
        let found = self.send(
            "POST",
            &format!("/session/{session}/element"),
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        found
            .as_object()
            .and_then(|element| element.values().next())
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("no element {css}"))
    }

    /// The rendered text of the element `css` selects.
    fn text(&self, session: &str, css: &str) -> Result<String> {
        let element = self.element(session, css)?;
        let text = self.send(
            "GET",
            &format!("/session/{session}/element/{element}/text"),
            None,
        )?;
        text.as_str()
            .map(str::to_owned)
            .context("an element's text that is not a string")
    }

    /// One WebDriver command: the reply's `value`, or its error.
    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .with_context(|| format!("cannot reach chromedriver on port {}", self.port))?;
        stream.set_read_timeout(Some(PAGE_TIMEOUT))?;
        // In one write: chromedriver reads a request from one packet.
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes())?;
        // Read by its length: chromedriver keeps the connection open.
        let mut reply = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reply.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().context("a bad Content-Length")?;
            }
            head.push_str(&line);
        }
        let mut json = vec![0; length];
        reply.read_exact(&mut json)?;
        let json = String::from_utf8_lossy(&json);
        let mut parsed: Value = serde_json::from_str(&json)
            .with_context(|| format!("{method} {path}: a reply that is not JSON: {json}"))?;
        let value = parsed["value"].take();
        let ok = head.split_whitespace().nth(1) == Some("200");
        if !ok {
            bail!(
                "{method} {path}: {} ({})",
                value["error"].as_str().unwrap_or("error"),
                value["message"].as_str().unwrap_or_default()
            );
        }
        Ok(value)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (a WebDriver screenshot), padding optional.
fn decode_base64(text: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("a screenshot that is not base64 (byte {c})"),
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("iVBORw0K").unwrap(), b"\x89PNG\r\n");
        assert!(decode_base64("a*b").is_err());
    }
}
