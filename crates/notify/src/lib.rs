//! The courier: puts queued notifications on the wire.
//!
//! Owns: HTTP requests (webhooks, SMS gateways; `http://` only, HTTP/1.1) and SMTP (EHLO,
//! optional AUTH PLAIN, one message per connection, UTF-8 subject and body in base64).
//! Every exchange has a time limit; any failure comes back as a message for the queue's
//! retry. Must not: decide what is sent to whom (that is `fengqiao_app::outbound`).
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use fengqiao_app::outbound::{Courier, Outgoing};
use fengqiao_domain::outbound::{HttpMethod, SmtpConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Time allowed for one whole exchange (connect, send, answer).
const TIME_LIMIT: Duration = Duration::from_secs(15);

/// Sends by HTTP and SMTP.
pub struct NetCourier {
    http: Client<HttpConnector, Full<Bytes>>,
    /// The name this host gives in EHLO.
    helo: String,
}

impl std::fmt::Debug for NetCourier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetCourier")
            .field("helo", &self.helo)
            .finish()
    }
}

impl Default for NetCourier {
    fn default() -> Self {
        NetCourier::new("fengqiao.localdomain")
    }
}

impl NetCourier {
    pub fn new(helo: &str) -> NetCourier {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        NetCourier {
            http: Client::builder(TokioExecutor::new()).build(connector),
            helo: helo.to_string(),
        }
    }

    async fn http(
        &self,
        method: HttpMethod,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), String> {
        let mut req = hyper::Request::builder()
            .method(match method {
                HttpMethod::Get => hyper::Method::GET,
                HttpMethod::Post => hyper::Method::POST,
            })
            .uri(url)
            .header("user-agent", "fengqiao-courier/1");
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| format!("bad request: {e}"))?;
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| format!("HTTP: {}", error_chain(&e)))?;
        let status = resp.status();
        if status.is_success() {
            // Read the answer so the connection can be reused.
            let _ = resp.into_body().collect().await;
            return Ok(());
        }
        let text = resp
            .into_body()
            .collect()
            .await
            .map(|b| {
                String::from_utf8_lossy(&b.to_bytes())
                    .chars()
                    .take(200)
                    .collect::<String>()
            })
            .unwrap_or_default();
        Err(format!("HTTP {status}: {text}"))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[async_trait]
impl Courier for NetCourier {
    async fn send(&self, out: &Outgoing) -> Result<(), String> {
        let work = async {
            match out {
                Outgoing::Http {
                    method,
                    url,
                    headers,
                    body,
                } => self.http(*method, url, headers, body).await,
                Outgoing::Mail {
                    smtp,
                    to,
                    subject,
                    body,
                } => send_mail(smtp, &self.helo, to, subject, body).await,
            }
        };
        tokio::time::timeout(TIME_LIMIT, work)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", TIME_LIMIT.as_secs())))
    }
}

/// One SMTP reply: its code and text (the lines of a multi-line reply joined).
async fn reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<(u16, String), String> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .await
            .map_err(|e| format!("SMTP read: {e}"))?;
        if n == 0 {
            return Err("SMTP server closed the connection".into());
        }
        let line = line.trim_end();
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("SMTP: unreadable reply {line:?}"))?;
        text.push_str(line.get(4..).unwrap_or(""));
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
        text.push(' ');
    }
}

/// Sends a command (or, with `None`, nothing) and expects a reply of class `want` (2 or 3).
async fn step<S>(
    conn: &mut BufReader<S>,
    cmd: Option<&str>,
    want: u16,
    what: &str,
) -> Result<String, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Some(c) = cmd {
        conn.get_mut()
            .write_all(c.as_bytes())
            .await
            .map_err(|e| format!("SMTP write: {e}"))?;
        conn.get_mut()
            .write_all(b"\r\n")
            .await
            .map_err(|e| format!("SMTP write: {e}"))?;
    }
    let (code, text) = reply(conn).await?;
    if code / 100 != want {
        return Err(format!("SMTP {what}: {code} {text}"));
    }
    Ok(text)
}

/// The message as sent: headers, then the UTF-8 body in base64 lines of 76.
pub fn mail_message(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    now: chrono::DateTime<chrono::Utc>,
    id: &str,
) -> String {
    let encoded = B64.encode(body.as_bytes());
    let mut lines = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        lines.push_str(&String::from_utf8_lossy(chunk));
        lines.push_str("\r\n");
    }
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: =?UTF-8?B?{}?=\r\nDate: {}\r\nMessage-ID: <{id}@fengqiao>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{lines}",
        B64.encode(subject.as_bytes()),
        now.format("%a, %d %b %Y %H:%M:%S +0000"),
    )
}

async fn send_mail(
    smtp: &SmtpConfig,
    helo: &str,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), String> {
    // Addresses were checked when they were entered; refuse anything that could inject commands.
    if [&smtp.from, to]
        .iter()
        .any(|a| a.contains(['\r', '\n', '<', '>']))
    {
        return Err("address with forbidden characters".into());
    }
    let stream = TcpStream::connect((smtp.host.as_str(), smtp.port))
        .await
        .map_err(|e| format!("SMTP connect {}:{}: {e}", smtp.host, smtp.port))?;
    let mut conn = BufReader::new(stream);
    step(&mut conn, None, 2, "greeting").await?;
    step(&mut conn, Some(&format!("EHLO {helo}")), 2, "EHLO").await?;
    if let Some(user) = &smtp.username {
        let token = B64.encode(format!(
            "\0{user}\0{}",
            smtp.password.as_deref().unwrap_or("")
        ));
        step(&mut conn, Some(&format!("AUTH PLAIN {token}")), 2, "AUTH").await?;
    }
    step(
        &mut conn,
        Some(&format!("MAIL FROM:<{}>", smtp.from)),
        2,
        "MAIL FROM",
    )
    .await?;
    step(&mut conn, Some(&format!("RCPT TO:<{to}>")), 2, "RCPT TO").await?;
    step(&mut conn, Some("DATA"), 3, "DATA").await?;
    let now = chrono::Utc::now();
    let id = format!("{}.{}", now.timestamp_millis(), std::process::id());
    let msg = mail_message(&smtp.from, to, subject, body, now, &id);
    // Base64 lines never start with '.', so no dot-stuffing is needed.
    conn.get_mut()
        .write_all(msg.as_bytes())
        .await
        .map_err(|e| format!("SMTP write: {e}"))?;
    step(&mut conn, Some("."), 2, "message").await?;
    let _ = step(&mut conn, Some("QUIT"), 2, "QUIT").await;
    Ok(())
}
