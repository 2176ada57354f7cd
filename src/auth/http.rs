//! Just enough HTTP/1.1 to POST one JSON request and read its answer, over the rustls/tokio stack the
//! WebSocket client already uses (no second HTTP stack for one request). `connection: close`; the answer
//! is read to its end, bounded in size and time; chunked bodies are decoded.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use super::AuthError;

/// The largest answer read (head and body).
pub const MAX_RESPONSE: usize = 1 << 20;

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs `body` (JSON) to `url` (http or https) with `headers`, within `timeout` for the whole exchange.
pub async fn post_json(
    url: &Url,
    headers: &[(&str, &str)],
    body: &str,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Answer, AuthError> {
    let exchange = async {
        let host = url
            .host_str()
            .ok_or_else(|| AuthError::Url(format!("{url} has no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| AuthError::Url(format!("{url} has no port")))?;
        let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| AuthError::Connect(format!("{host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let request = request_bytes(url, headers, body);
        let raw = if url.scheme() == "https" {
            let name = rustls_pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| AuthError::Url(format!("{host}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| AuthError::Connect(format!("TLS with {host}: {e}")))?;
            exchange_on(tls, &request).await?
        } else {
            exchange_on(tcp, &request).await?
        };
        parse_answer(&raw)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| AuthError::Timeout(timeout))?
}

fn request_bytes(url: &Url, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut target = url.path().to_string();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nuser-agent: voxlive/{}\r\n",
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

async fn exchange_on<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &[u8]) -> Result<Vec<u8>, AuthError> {
    let io = |e: std::io::Error| AuthError::Connect(e.to_string());
    stream.write_all(request).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut raw = Vec::new();
    let mut limited = (&mut stream).take(MAX_RESPONSE as u64 + 1);
    match limited.read_to_end(&mut raw).await {
        Ok(_) => {}
        // a TLS peer that closes without close_notify: what arrived is still the answer
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(io(e)),
    }
    if raw.len() > MAX_RESPONSE {
        return Err(AuthError::Answer(format!(
            "the answer is larger than {MAX_RESPONSE} bytes"
        )));
    }
    Ok(raw)
}

/// Splits a whole answer into status and body (by content-length, chunked, or to the end).
pub fn parse_answer(raw: &[u8]) -> Result<Answer, AuthError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(AuthError::Answer("the answer ended inside its head".into())),
        Err(e) => return Err(AuthError::Answer(format!("not an HTTP answer: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let rest = &raw[head_len..];
    let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < n {
            return Err(AuthError::Answer(format!(
                "the body ended after {} of {n} bytes",
                rest.len()
            )));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Answer { status, body })
}

/// Decodes a chunked body (sizes in hex, each chunk followed by CRLF, ending with a 0 chunk).
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, AuthError> {
    let bad = || AuthError::Answer("a malformed chunked body".into());
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let line = std::str::from_utf8(&data[..line_end]).map_err(|_| bad())?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 || out.len() + size > MAX_RESPONSE {
            return Err(bad());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{}{}";
        let a = parse_answer(plain).unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"{}{}"[..]));
        let chunked = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n3;x=y\r\n\":1\r\n1\r\n}\r\n0\r\n\r\n";
        let a = parse_answer(chunked).unwrap();
        assert_eq!((a.status, a.body.as_slice()), (400, &b"{\"a\":1}"[..]));
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort").is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert!(parse_answer(b"garbage").is_err());
    }
}
