//! A minimal blocking HTTP/1.0 client for loopback test servers (the OAuth2 provider): one
//! request per connection, the body read to the end (HTTP/1.0: never chunked), a cookie jar
//! that sends every cookie it was given. Refuses any host but 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// Longest wait for connecting, and for each read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger answers are an error (the provider's pages are a few KiB).
const MAX_RESPONSE: u64 = 1 << 20;

/// One answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("HTTP {}: not JSON: {}", self.status, self.text()))
    }
}

/// A client for `http://localhost:PORT` (connects to 127.0.0.1:PORT, sends `Host:
/// localhost:PORT`), keeping cookies between requests.
#[derive(Debug, Clone)]
pub struct Client {
    port: u16,
    cookies: BTreeMap<String, String>,
}

impl Client {
    pub fn new(port: u16) -> Client {
        Client {
            port,
            cookies: BTreeMap::new(),
        }
    }

    pub fn get(&mut self, path: &str) -> Result<Response> {
        self.request("GET", path, &[], None)
    }

    /// GET with extra headers (e.g. `Authorization: Bearer …`).
    pub fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Result<Response> {
        self.request("GET", path, headers, None)
    }

    /// POST of an `application/x-www-form-urlencoded` body.
    pub fn post_form(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Result<Response> {
        self.request("POST", path, headers, Some(form_encode(form).as_bytes()))
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response> {
        if !path.starts_with('/') || path.contains(['\r', '\n', ' ']) {
            bail!("not a request path: {path:?}");
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut sock = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .with_context(|| format!("connecting to {addr}"))?;
        sock.set_read_timeout(Some(IO_TIMEOUT))?;
        sock.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut head = format!(
            "{method} {path} HTTP/1.0\r\nHost: localhost:{}\r\nAccept: */*\r\n",
            self.port
        );
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        sock.write_all(head.as_bytes())?;
        if let Some(body) = body {
            sock.write_all(body)?;
        }
        let mut raw = Vec::new();
        sock.take(MAX_RESPONSE + 1)
            .read_to_end(&mut raw)
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        if raw.len() as u64 > MAX_RESPONSE {
            bail!("the answer to {method} {path} is larger than {MAX_RESPONSE} bytes");
        }
        let response = parse_response(&raw)?;
        for (name, value) in &response.headers {
            if name == "set-cookie" {
                self.keep_cookie(value);
            }
        }
        Ok(response)
    }

    /// `name=value; Path=…; …`: keeps name and value; an expired or empty one is removed.
    fn keep_cookie(&mut self, set_cookie: &str) {
        let pair = set_cookie.split(';').next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else {
            return;
        };
        let expired = set_cookie
            .to_ascii_lowercase()
            .contains("expires=thu, 01 jan 1970");
        if value.is_empty() || expired {
            self.cookies.remove(name.trim());
        } else {
            self.cookies
                .insert(name.trim().to_string(), value.trim().to_string());
        }
    }
}

fn parse_response(raw: &[u8]) -> Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("an HTTP answer without the end of its head"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad HTTP status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

/// `application/x-www-form-urlencoded` (also a URL's query).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes all but the RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (form encoding); invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `name` in the query of `url` (after `?`, before `#`), decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| percent_decode(k) == name)
        .map(|(_, v)| percent_decode(v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trip() {
        let s = "a b&c=d/é+%";
        assert_eq!(percent_encode(s), "a%20b%26c%3Dd%2F%C3%A9%2B%25");
        assert_eq!(percent_decode(&percent_encode(s)), s);
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        assert_eq!(form_encode(&[("k", "v w"), ("x", "")]), "k=v%20w&x=");
        let url = "http://127.0.0.1:9/cb?code=a%2Fb&state=s+1&iss=http%3A%2F%2Fx#frag";
        assert_eq!(query_param(url, "code").as_deref(), Some("a/b"));
        assert_eq!(query_param(url, "state").as_deref(), Some("s 1"));
        assert_eq!(query_param(url, "iss").as_deref(), Some("http://x"));
        assert_eq!(query_param(url, "nope"), None);
    }

    #[test]
    fn responses_and_cookies() {
        let r = parse_response(
            b"HTTP/1.1 303 See Other\r\nLocation: /x\r\nSet-Cookie: a=1; path=/\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("/x"));
        assert_eq!(r.body, b"body");
        let mut c = Client::new(1);
        c.keep_cookie("a=1; path=/; httponly");
        c.keep_cookie("b=2");
        c.keep_cookie("b=; expires=Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(c.cookies.len(), 1);
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
