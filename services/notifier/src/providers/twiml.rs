//! TwiML documents for alert voice calls.
//!
//! The alert text is untrusted as far as XML is concerned (it is assembled from rule
//! names, values and ids), so everything interpolated is escaped and characters that
//! XML 1.0 forbids are dropped — an unescaped `<` or `&` would make Twilio fail the call.

/// How many times the alert is read if nobody presses a key: once is easy to miss when
/// the phone is picked up late.
const READINGS: usize = 2;

/// Builds the TwiML for an alert call: reads `text` aloud and, when `gather_action_url`
/// is given, lets the callee acknowledge by pressing any key (`<Gather numDigits="1">`
/// posts the digit to that URL). Without a URL there is nowhere to post a key press to,
/// so the call only reads the alert.
pub fn alert_call_twiml(text: &str, gather_action_url: Option<&str>) -> String {
    let text = escape_xml(text);
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for _ in 0..READINGS {
        match gather_action_url {
            Some(url) => {
                xml.push_str(r#"<Gather numDigits="1" method="POST" timeout="5" action=""#);
                xml.push_str(&escape_xml(url));
                xml.push_str(r#""><Say>"#);
                xml.push_str(&text);
                xml.push_str(" Press any key to acknowledge.</Say></Gather>");
            }
            None => {
                xml.push_str("<Say>");
                xml.push_str(&text);
                xml.push_str("</Say>");
            }
        }
    }
    if gather_action_url.is_some() {
        // Reached only when no key was pressed after every reading.
        xml.push_str("<Say>The alert was not acknowledged. Goodbye.</Say>");
    }
    xml.push_str("</Response>");
    xml
}

/// Escapes text for use in XML content and in double- or single-quoted attributes.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if is_xml_char(c) => out.push(c),
            // Control characters cannot appear in XML 1.0 even as references.
            _ => {}
        }
    }
    out
}

/// The XML 1.0 `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_url() {
        let xml = alert_call_twiml(
            "HR > 150 & <rising> \"quoted\" 'x'\u{1}",
            Some("https://h/ack?a=1&b=2"),
        );
        assert!(
            xml.contains("HR &gt; 150 &amp; &lt;rising&gt; &quot;quoted&quot; &apos;x&apos; Press")
        );
        assert!(xml.contains(r#"action="https://h/ack?a=1&amp;b=2""#));
        assert!(!xml.contains('\u{1}'));
        assert_eq!(xml.matches(r#"<Gather numDigits="1""#).count(), READINGS);
    }

    #[test]
    fn without_action_url_only_reads() {
        let xml = alert_call_twiml("Patient 01J asystole", None);
        assert!(!xml.contains("Gather"));
        assert_eq!(
            xml.matches("<Say>Patient 01J asystole</Say>").count(),
            READINGS
        );
        assert!(xml.ends_with("</Response>"));
    }
}
