//! A stub DNS client for A and AAAA records, asked of one configured server
//! (`bus.nameserver`). The system resolver (getaddrinfo) serves every other case; it
//! cannot be pointed at a server of our choosing per process, which is what an operator
//! running a discovery DNS beside the cluster's, and the discovery test's dnsmasq, need.
//! It does only what discovery needs — two questions, the addresses in the answer —
//! so it adds no resolver library to the supply chain (docs/architecture.md, "Discovery").

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// One try of a question; a lost UDP datagram is asked again once.
const TRY_TIMEOUT: Duration = Duration::from_secs(2);
const TRIES: usize = 2;
/// EDNS0 payload size we accept over UDP, so a headless Service of many pods fits in
/// one datagram; a server that truncates anyway is asked again over TCP.
const UDP_PAYLOAD: u16 = 4096;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DnsError {
    #[error("not a valid DNS name: {0:?}")]
    Name(String),
    #[error("no such name")]
    NoSuchName,
    #[error("no A or AAAA record")]
    NoAddress,
    #[error("server answered rcode {0}")]
    Rcode(u8),
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Io(String),
}

/// Every A and AAAA address of `host` according to `server`.
pub async fn lookup(server: SocketAddr, host: &str) -> Result<BTreeSet<IpAddr>, DnsError> {
    let (v4, v6) = tokio::join!(ask(server, host, TYPE_A), ask(server, host, TYPE_AAAA));
    match (v4, v6) {
        (Ok(a), Ok(b)) => {
            let all: BTreeSet<IpAddr> = a.into_iter().chain(b).collect();
            if all.is_empty() {
                Err(DnsError::NoAddress)
            } else {
                Ok(all)
            }
        }
        // One family answering is enough (an IPv4-only cluster's server may fail AAAA).
        (Ok(found), Err(e)) | (Err(e), Ok(found)) => {
            if found.is_empty() {
                Err(e)
            } else {
                Ok(found.into_iter().collect())
            }
        }
        (Err(e), Err(_)) => Err(e),
    }
}

async fn ask(server: SocketAddr, host: &str, qtype: u16) -> Result<Vec<IpAddr>, DnsError> {
    let id: u16 = rand::random();
    let query = encode_query(id, host, qtype)?;
    let mut last = DnsError::Timeout(TRY_TIMEOUT);
    for _ in 0..TRIES {
        match tokio::time::timeout(TRY_TIMEOUT, over_udp(server, &query, id)).await {
            Ok(Ok(answer)) => {
                return match parse_answer(&answer, id) {
                    // Too big for the datagram: TCP carries any size.
                    Err(DnsError::Malformed("truncated")) => {
                        tokio::time::timeout(TRY_TIMEOUT, over_tcp(server, &query))
                            .await
                            .map_err(|_| DnsError::Timeout(TRY_TIMEOUT))?
                            .and_then(|answer| parse_answer(&answer, id))
                            .map(|a| a.addresses)
                    }
                    other => other.map(|a| a.addresses),
                };
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = DnsError::Timeout(TRY_TIMEOUT),
        }
    }
    Err(last)
}

async fn over_udp(server: SocketAddr, query: &[u8], id: u16) -> Result<Vec<u8>, DnsError> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected: datagrams from any other address are not delivered to us.
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; usize::from(UDP_PAYLOAD)];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        // A late answer to an earlier try carries another id: wait for ours.
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn over_tcp(server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, DnsError> {
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(query.len()).map_err(|_| DnsError::Malformed("query too long"))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    let len = stream.read_u16().await.map_err(io)?;
    let mut answer = vec![0u8; usize::from(len)];
    stream.read_exact(&mut answer).await.map_err(io)?;
    Ok(answer)
}

fn io(e: std::io::Error) -> DnsError {
    DnsError::Io(e.to_string())
}

/// A recursive query for (`host`, `qtype`, IN) with an EDNS0 record offering
/// [`UDP_PAYLOAD`] bytes.
fn encode_query(id: u16, host: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::with_capacity(host.len() + 30);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    out.extend_from_slice(&[0, 0, 0, 0]); // ANCOUNT, NSCOUNT
    out.extend_from_slice(&1u16.to_be_bytes()); // ARCOUNT: the OPT record
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::Name(host.to_owned()));
    }
    for label in name.split('.') {
        let len = u8::try_from(label.len()).map_err(|_| DnsError::Name(host.to_owned()))?;
        if len == 0 || len > 63 {
            return Err(DnsError::Name(host.to_owned()));
        }
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    // OPT: root name, type, payload size in CLASS, TTL 0 (no flags), no options.
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&UDP_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
struct Answer {
    addresses: Vec<IpAddr>,
}

/// The A and AAAA records of the answer section. Every length is checked against the
/// message: an answer is input from the network.
fn parse_answer(msg: &[u8], id: u16) -> Result<Answer, DnsError> {
    let mut r = Reader { msg, pos: 0 };
    if r.u16()? != id {
        return Err(DnsError::Malformed("another query's id"));
    }
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::Malformed("not a response"));
    }
    if flags & 0x0200 != 0 {
        return Err(DnsError::Malformed("truncated"));
    }
    match (flags & 0x000f) as u8 {
        0 => {}
        3 => return Err(DnsError::NoSuchName),
        rcode => return Err(DnsError::Rcode(rcode)),
    }
    let questions = r.u16()?;
    let answers = r.u16()?;
    r.skip(4)?; // NSCOUNT, ARCOUNT: not read
    for _ in 0..questions {
        r.skip_name()?;
        r.skip(4)?;
    }
    let mut addresses = Vec::new();
    for _ in 0..answers {
        r.skip_name()?;
        let (rtype, class) = (r.u16()?, r.u16()?);
        r.skip(4)?; // TTL: we re-resolve on our own interval
        let len = usize::from(r.u16()?);
        let data = r.take(len)?;
        // CNAME and other records are skipped: a recursive server puts the addresses
        // the chain ends in into the same answer.
        match (rtype, class, data.len()) {
            (TYPE_A, CLASS_IN, 4) => {
                addresses.push(IpAddr::from(<[u8; 4]>::try_from(data).unwrap_or_default()));
            }
            (TYPE_AAAA, CLASS_IN, 16) => {
                addresses.push(IpAddr::from(<[u8; 16]>::try_from(data).unwrap_or_default()));
            }
            (TYPE_A | TYPE_AAAA, CLASS_IN, _) => {
                return Err(DnsError::Malformed("address of the wrong length"));
            }
            _ => {}
        }
    }
    Ok(Answer { addresses })
}

struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.msg.len())
            .ok_or(DnsError::Malformed("shorter than its counts"))?;
        let out = &self.msg[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> Result<(), DnsError> {
        self.take(n).map(|_| ())
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Past a name in place: labels ending in the root, or in a compression pointer
    /// (whose target we never need to read).
    fn skip_name(&mut self) -> Result<(), DnsError> {
        // A name has at most 127 labels; more is a malicious or broken message.
        for _ in 0..128 {
            let len = self.take(1)?[0];
            match len & 0xc0 {
                0x00 if len == 0 => return Ok(()),
                0x00 => self.skip(usize::from(len))?,
                0xc0 => return self.skip(1),
                _ => return Err(DnsError::Malformed("unknown label type")),
            }
        }
        Err(DnsError::Malformed("name too long"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as dnsmasq writes one: the question echoed, answers naming it by a
    /// compression pointer to offset 12.
    fn answer(id: u16, flags: u16, records: &[(u16, &[u8])]) -> Vec<u8> {
        let query = encode_query(id, "ingest.cw.svc", TYPE_A).expect("query");
        // Header and question of the query (without its OPT record).
        let question_end = query.len() - 11;
        let mut out = query[..question_end].to_vec();
        out[2..4].copy_from_slice(&flags.to_be_bytes());
        out[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        out[10..12].copy_from_slice(&0u16.to_be_bytes());
        for (rtype, data) in records {
            out.extend_from_slice(&[0xc0, 12]);
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&0u32.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn a_query_names_the_host_in_labels_and_offers_edns() {
        let q = encode_query(0x1234, "cw-ingest.cw.svc.", TYPE_AAAA).expect("query");
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(
            &q[12..34],
            b"\x09cw-ingest\x02cw\x03svc\x00\x00\x1c\x00\x01"
        );
        assert_eq!(&q[34..], &[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        for bad in ["", ".", "a..b", &"x".repeat(64), &"a.".repeat(130)] {
            assert!(
                matches!(encode_query(1, bad, TYPE_A), Err(DnsError::Name(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_address_of_the_answer_is_read_and_other_records_skipped() {
        let msg = answer(
            7,
            0x8180,
            &[
                (5, b"\x03api\xc0\x0c"), // a CNAME
                (TYPE_A, &[10, 0, 0, 1]),
                (TYPE_A, &[10, 0, 0, 2]),
                (
                    TYPE_AAAA,
                    &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                ),
            ],
        );
        let found = parse_answer(&msg, 7).expect("parses").addresses;
        assert_eq!(
            found,
            [
                "10.0.0.1".parse::<IpAddr>().expect("ip"),
                "10.0.0.2".parse().expect("ip"),
                "fd00::1".parse().expect("ip"),
            ]
        );
    }

    #[test]
    fn errors_truncation_and_foreign_ids_are_told_apart() {
        assert_eq!(
            parse_answer(&answer(7, 0x8183, &[]), 7),
            Err(DnsError::NoSuchName)
        );
        assert_eq!(
            parse_answer(&answer(7, 0x8182, &[]), 7),
            Err(DnsError::Rcode(2))
        );
        assert_eq!(
            parse_answer(&answer(7, 0x8380, &[]), 7),
            Err(DnsError::Malformed("truncated"))
        );
        assert_eq!(
            parse_answer(&answer(8, 0x8180, &[]), 7),
            Err(DnsError::Malformed("another query's id"))
        );
        assert_eq!(
            parse_answer(&answer(7, 0x0100, &[]), 7),
            Err(DnsError::Malformed("not a response"))
        );
    }

    /// Every prefix of a good answer and a few hostile ones end in an error, never a
    /// panic or an address read from outside the record.
    #[test]
    fn short_and_hostile_answers_are_errors() {
        let good = answer(7, 0x8180, &[(TYPE_A, &[10, 0, 0, 1])]);
        for cut in 0..good.len() {
            assert!(parse_answer(&good[..cut], 7).is_err(), "cut at {cut}");
        }
        let wrong_length = answer(7, 0x8180, &[(TYPE_A, &[10, 0, 0])]);
        assert!(parse_answer(&wrong_length, 7).is_err());
        // A name of pointer-less labels running off the end, and a label type 0x40.
        let mut endless = good[..12].to_vec();
        endless[4..6].copy_from_slice(&1u16.to_be_bytes());
        endless.extend(std::iter::repeat_n(1u8, 300));
        assert!(parse_answer(&endless, 7).is_err());
        let mut odd = good.clone();
        odd[12] = 0x45;
        assert!(parse_answer(&odd, 7).is_err());
    }
}
