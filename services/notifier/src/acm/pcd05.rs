//! The alert manager's answer to a PCD-04: an accept acknowledgement (`ACK^R40`) or a
//! PCD-05 Report Alert Status (`ORA^R41`), both carrying MSA (MSA-1 the code, MSA-2 the
//! control id of our message, MSA-3 a text). Pure; what is kept of it goes on the
//! delivery row (docs/integration.md, "Alert managers").

use thiserror::Error;

/// MSA-1. `AA`/`CA` accepted; `AE`/`CE` an error in our message (sending it again as
/// is cannot help); `AR`/`CR` refused for a reason of the receiver's (it may take it later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckCode {
    Accept,
    Error,
    Reject,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// MSH-9, e.g. `ACK^R40^ACK` or `ORA^R41^ORA_R41`.
    pub message_type: String,
    pub code: AckCode,
    /// MSA-2: the control id of the message this answers.
    pub control_id: String,
    /// MSA-3 (or ERR-8 when MSA-3 is empty), bounded: it is stored on the delivery.
    pub text: String,
    /// PCD-05 only: the status the manager reports (the first OBX-5, kept as text and
    /// not interpreted).
    pub status: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReplyError {
    #[error("reply does not start with an MSH segment")]
    NoHeader,
    #[error("reply has no MSA segment")]
    NoAcknowledgement,
    #[error("reply has an unknown acknowledgement code `{0}`")]
    UnknownCode(String),
}

/// Longest text kept from a reply: a misbehaving far end must not flood the store.
const MAX_TEXT: usize = 200;

/// Reads a reply as its sender wrote it: the field separator is MSH-1 and the component
/// separator the first of MSH-2, whatever they are.
pub fn parse(message: &str) -> Result<Reply, ReplyError> {
    let message = message.trim_matches(|c| c == '\r' || c == '\n');
    let mut segments = message.split(['\r', '\n']).filter(|s| !s.is_empty());
    let header = segments.next().ok_or(ReplyError::NoHeader)?;
    let rest = header.strip_prefix("MSH").ok_or(ReplyError::NoHeader)?;
    let field_sep = rest.chars().next().ok_or(ReplyError::NoHeader)?;
    let msh: Vec<&str> = rest[field_sep.len_utf8()..].split(field_sep).collect();
    // msh[0] is MSH-2, so MSH-n is msh[n - 2].
    let message_type = msh.get(7).copied().unwrap_or_default().to_owned();
    let mut msa: Option<Vec<&str>> = None;
    let mut err_text = None;
    let mut status = None;
    for seg in segments {
        let fields: Vec<&str> = seg.split(field_sep).collect();
        match fields[0] {
            "MSA" if msa.is_none() => msa = Some(fields),
            "ERR" if err_text.is_none() => {
                err_text = fields
                    .get(8)
                    .filter(|t| !t.is_empty())
                    .map(|t| t.to_string())
            }
            "OBX" if status.is_none() => {
                status = fields.get(5).filter(|t| !t.is_empty()).map(|t| bounded(t))
            }
            _ => {}
        }
    }
    let msa = msa.ok_or(ReplyError::NoAcknowledgement)?;
    let raw_code = msa.get(1).copied().unwrap_or_default();
    let code = match raw_code {
        "AA" | "CA" => AckCode::Accept,
        "AE" | "CE" => AckCode::Error,
        "AR" | "CR" => AckCode::Reject,
        other => return Err(ReplyError::UnknownCode(bounded(other))),
    };
    let text = msa
        .get(3)
        .filter(|t| !t.is_empty())
        .map(|t| t.to_string())
        .or(err_text)
        .unwrap_or_default();
    Ok(Reply {
        message_type: bounded(&message_type),
        code,
        control_id: bounded(msa.get(2).copied().unwrap_or_default()),
        text: bounded(&text),
        status,
    })
}

/// MSH-9 and MSH-10 of any message, to tell a reply from a message the manager sent on
/// its own (a keep-alive, a later PCD-05) and to acknowledge the latter.
pub fn header(message: &str) -> Option<(String, String)> {
    let first = message
        .trim_start_matches(['\r', '\n'])
        .split(['\r', '\n'])
        .next()?;
    let rest = first.strip_prefix("MSH")?;
    let sep = rest.chars().next()?;
    let msh: Vec<&str> = rest[sep.len_utf8()..].split(sep).collect();
    Some((
        bounded(msh.get(7).copied().unwrap_or_default()),
        bounded(msh.get(8).copied().unwrap_or_default()),
    ))
}

/// Our accept acknowledgement (`ACK`, MSA-1 `CA`) of a message the manager sent us.
pub fn accept(
    sending_application: &str,
    their_control_id: &str,
    our_control_id: &str,
    at: cw_core::time::Nanos,
) -> String {
    use super::hl7::{ENCODING_CHARACTERS, dtm, escape, segment};
    let time = dtm(at);
    let app = escape(sending_application);
    let msh = segment(
        "MSH",
        &[
            ENCODING_CHARACTERS,
            &app,
            "",
            "",
            "",
            &time,
            "",
            "ACK",
            &escape(our_control_id),
            "P",
            "2.6",
        ],
    );
    let msa = segment("MSA", &["CA", &escape(their_control_id)]);
    format!("{msh}\r{msa}\r")
}

fn bounded(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_accept_acknowledgement() {
        let reply = parse(
            "MSH|^~\\&|AM|WARD|CW|HOSP|20261207141516+0000||ACK^R40^ACK|9|P|2.6\rMSA|AA|alert.1\r",
        )
        .expect("ack");
        assert_eq!(reply.code, AckCode::Accept);
        assert_eq!(reply.control_id, "alert.1");
        assert_eq!(reply.message_type, "ACK^R40^ACK");
        assert_eq!(reply.status, None);
    }

    #[test]
    fn reads_a_pcd05_with_its_status_and_an_error_text() {
        let reply = parse(
            "MSH|^~\\&|AM|WARD|||20261207141516||ORA^R41^ORA_R41|10|P|2.6\rMSA|AE|a.2\rERR||||E||||no such patient\rOBX|1|ST|68480^X^MDC|1.0.0.0.1|delivered\r",
        )
        .expect("pcd05");
        assert_eq!(reply.code, AckCode::Error);
        assert_eq!(reply.text, "no such patient");
        assert_eq!(reply.status.as_deref(), Some("delivered"));
        assert_eq!(reply.message_type, "ORA^R41^ORA_R41");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert_eq!(parse(""), Err(ReplyError::NoHeader));
        assert_eq!(parse("PID|1"), Err(ReplyError::NoHeader));
        assert_eq!(parse("MSH|^~\\&|AM\r"), Err(ReplyError::NoAcknowledgement));
        assert_eq!(
            parse("MSH|^~\\&|AM\rMSA|XX|1\r"),
            Err(ReplyError::UnknownCode("XX".into()))
        );
        let long = format!("MSH|^~\\&\rMSA|AR|1|{}\r", "x".repeat(5_000));
        assert_eq!(parse(&long).expect("reject").text.len(), MAX_TEXT);
    }

    #[test]
    fn a_message_of_the_manager_is_acknowledged_by_its_control_id() {
        let (kind, control) =
            header("MSH|^~\\&|AM|W|||1||ORA^R41^ORA_R41|77|P|2.6\r").expect("msh");
        assert_eq!((kind.as_str(), control.as_str()), ("ORA^R41^ORA_R41", "77"));
        let ack = accept("CARDIOWATCH", &control, "cw-1", 0);
        let reply = parse(&ack).expect("our ack reads back");
        assert_eq!(
            (reply.code, reply.control_id.as_str()),
            (AckCode::Accept, "77")
        );
        assert_eq!(header("PID|1"), None);
    }

    #[test]
    fn another_field_separator_is_honoured() {
        let reply = parse("MSH#^~\\&#AM\rMSA#CA#k.1\r").expect("ack");
        assert_eq!(
            (reply.code, reply.control_id.as_str()),
            (AckCode::Accept, "k.1")
        );
    }
}
