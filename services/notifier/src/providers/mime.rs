//! The raw MIME form of a plain-text email. The notifier sends raw mail (not SES's
//! "simple" content) so that it can set `Message-ID` and `References` itself: the same
//! page sent twice across a crash carries the same ids (docs/architecture.md, notifier:
//! email is at-least-once).

use super::ProviderError;
use base64::Engine;

/// Header ids of one email: `Message-ID` stable per page, `References` per alert.
pub struct Threading<'a> {
    /// Without angle brackets, e.g. `01j….dr-1.1@hospital.org`.
    pub message_id: &'a str,
    pub references: &'a str,
}

/// A PNG shown inline in the mail (the event strip).
pub struct InlinePng<'a> {
    /// File name offered to the reader, also its `Content-ID`: `[A-Za-z0-9._-]`.
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// Separates the parts of a mail with an image. `=_` never occurs in base64, and the
/// text part is ours (alert facts), so it cannot hold the boundary either.
const BOUNDARY: &str = "=_cardiowatch_page";

/// `From`, `To`, `Subject`, the ids when given, and a UTF-8 text body, with CRLF line
/// ends. A header value with a line break is refused (header injection), never sent.
pub fn plain_text(
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
    threading: Option<&Threading<'_>>,
) -> Result<String, ProviderError> {
    compose(from, to, subject, text, threading, None)
}

/// [`plain_text`], and with `image` a `multipart/mixed` mail whose second part is the
/// PNG, `Content-Disposition: inline` so that mail clients show it under the text.
pub fn compose(
    from: &str,
    to: &str,
    subject: &str,
    text: &str,
    threading: Option<&Threading<'_>>,
    image: Option<&InlinePng<'_>>,
) -> Result<String, ProviderError> {
    let mut values = vec![from, to, subject];
    if let Some(t) = threading {
        values.extend([t.message_id, t.references]);
    }
    if values.iter().any(|v| v.contains(['\r', '\n'])) {
        return Err(ProviderError::InvalidRequest(
            "email header with a line break".to_owned(),
        ));
    }
    if let Some(image) = image
        && (image.name.is_empty()
            || !image
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
    {
        return Err(ProviderError::InvalidRequest(
            "inline image name outside [A-Za-z0-9._-]".to_owned(),
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let subject = if subject.is_ascii() {
        subject.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", b64.encode(subject))
    };
    let mut mail = format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n");
    if let Some(t) = threading {
        mail.push_str(&format!(
            "Message-ID: <{}>\r\nReferences: <{}>\r\n",
            t.message_id, t.references
        ));
    }
    mail.push_str("MIME-Version: 1.0\r\n");
    match image {
        None => text_part(&mut mail, text),
        Some(image) => {
            mail.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\r\n\r\n--{BOUNDARY}\r\n"
            ));
            text_part(&mut mail, text);
            mail.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Type: image/png; name=\"{name}\"\r\nContent-Disposition: inline; filename=\"{name}\"\r\nContent-ID: <{name}>\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                name = image.name
            ));
            mail.push_str(&base64_lines(&b64.encode(image.bytes)));
            mail.push_str(&format!("\r\n--{BOUNDARY}--\r\n"));
        }
    }
    Ok(mail)
}

/// The text's `Content-Type` and encoding headers, a blank line and the text, ending
/// with CRLF.
fn text_part(mail: &mut String, text: &str) {
    mail.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
    // SMTP carries 7-bit lines of at most 998 characters; anything else goes base64.
    let seven_bit = text.is_ascii() && text.lines().all(|l| l.len() <= 998);
    if seven_bit {
        mail.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        mail.push_str(&text.lines().collect::<Vec<_>>().join("\r\n"));
    } else {
        mail.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let b64 = base64::engine::general_purpose::STANDARD;
        mail.push_str(&base64_lines(&b64.encode(text)));
    }
    mail.push_str("\r\n");
}

/// Base64 text in lines of 76 characters (RFC 2045), joined by CRLF.
fn base64_lines(encoded: &str) -> String {
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    lines.join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: Threading<'static> = Threading {
        message_id: "a1.dr-1.1@hospital.test",
        references: "a1@hospital.test",
    };

    #[test]
    fn ascii_mail_carries_its_ids_and_a_readable_body() {
        let mail = plain_text(
            "alerts@hospital.test",
            "dr@hospital.test",
            "HR high",
            "Alert a1.",
            Some(&IDS),
        )
        .expect("mail");
        assert!(mail.starts_with("From: alerts@hospital.test\r\nTo: dr@hospital.test\r\n"));
        assert!(
            mail.contains("\r\nMessage-ID: <a1.dr-1.1@hospital.test>\r\n"),
            "{mail}"
        );
        assert!(
            mail.contains("\r\nReferences: <a1@hospital.test>\r\n"),
            "{mail}"
        );
        assert!(mail.ends_with("\r\n\r\nAlert a1.\r\n"), "{mail}");
    }

    #[test]
    fn non_ascii_goes_encoded() {
        let mail = plain_text(
            "a@h.test",
            "d@h.test",
            "Fréquence",
            "Fréquence élevée",
            None,
        )
        .expect("mail");
        assert!(mail.contains("Subject: =?UTF-8?B?"), "{mail}");
        assert!(mail.contains("Content-Transfer-Encoding: base64"), "{mail}");
        assert!(!mail.contains("Message-ID"), "no ids asked for");
        assert!(mail.is_ascii());
    }

    #[test]
    fn a_line_break_in_a_header_is_refused() {
        let err = plain_text("a@h.test", "d@h.test\r\nBcc: x@evil.test", "s", "t", None)
            .expect_err("injection");
        assert!(matches!(err, ProviderError::InvalidRequest(_)));
    }

    #[test]
    fn an_image_goes_as_an_inline_png_part_after_the_text() {
        let png = [0x89_u8, b'P', b'N', b'G', 0, 1, 2, 3];
        let mail = compose(
            "a@h.test",
            "d@h.test",
            "HR high",
            "Alert a1.",
            Some(&IDS),
            Some(&InlinePng {
                name: "strip.png",
                bytes: &png,
            }),
        )
        .expect("mail");
        assert!(
            mail.contains("Content-Type: multipart/mixed; boundary=\"=_cardiowatch_page\"\r\n")
        );
        let text_at = mail.find("\r\n\r\nAlert a1.\r\n").expect("text part");
        let image_at = mail
            .find("Content-Type: image/png; name=\"strip.png\"\r\nContent-Disposition: inline; filename=\"strip.png\"")
            .expect("image part");
        assert!(text_at < image_at, "{mail}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(png);
        assert!(
            mail.contains(&format!("\r\n\r\n{b64}\r\n--=_cardiowatch_page--\r\n")),
            "{mail}"
        );
        let bad = compose(
            "a@h.test",
            "d@h.test",
            "s",
            "t",
            None,
            Some(&InlinePng {
                name: "a\"b",
                bytes: &png,
            }),
        );
        assert!(matches!(bad, Err(ProviderError::InvalidRequest(_))));
    }
}
