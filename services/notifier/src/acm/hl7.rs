//! HL7 v2 text encoding shared by the messages we build and the replies we read: the
//! delimiters (`|^~\&`, MSH-1/MSH-2), escaping of free text and the `DTM` format.
//! Pure; docs/integration.md ("Alert managers") shows the result.

use cw_core::time::{Nanos, UtcDateTime};

/// MSH-2: component, repetition, escape and subcomponent separators, in that order.
pub const ENCODING_CHARACTERS: &str = "^~\\&";

/// Escapes text for one HL7 field or component: the five delimiters become their escape
/// sequences (HL7 v2.6 §2.7), and line breaks hex escapes, because a raw CR ends a
/// segment and a raw 0x0B/0x1C would break the MLLP frame. Other control characters
/// carry nothing a reader needs and are dropped to a space.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' => out.push_str("\\X0D\\"),
            '\n' => out.push_str("\\X0A\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An HL7 `DTM` in UTC with an explicit offset: `YYYYMMDDHHMMSS+0000`.
pub fn dtm(ns: Nanos) -> String {
    let t = UtcDateTime::from_nanos(ns);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0000",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// One segment: its id and its fields from field 1 on, joined by `|`. Trailing empty
/// fields are dropped (HL7 allows it; readers treat a missing field as empty).
pub fn segment(id: &str, fields: &[&str]) -> String {
    let used = fields
        .iter()
        .rposition(|f| !f.is_empty())
        .map_or(0, |i| i + 1);
    let mut out = String::from(id);
    for field in &fields[..used] {
        out.push('|');
        out.push_str(field);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delimiter_in_free_text_is_escaped() {
        assert_eq!(
            escape(r"a|b^c~d\e&f"),
            r"a\F\b\S\c\R\d\E\e\T\f",
            "field, component, repetition, escape and subcomponent"
        );
        assert_eq!(escape("one\r\ntwo"), r"one\X0D\\X0A\two");
        assert_eq!(
            escape("x\u{0b}y\u{1c}z"),
            "x y z",
            "MLLP frame bytes never pass"
        );
        assert_eq!(escape("plain text, 5.7 s"), "plain text, 5.7 s");
    }

    #[test]
    fn dtm_is_utc_with_offset() {
        // 2026-12-07T14:15:16.9Z
        let ns = 1_796_652_916_900_000_000;
        assert_eq!(dtm(ns), "20261207141516+0000");
    }

    #[test]
    fn segment_drops_trailing_empty_fields_only() {
        assert_eq!(segment("OBX", &["1", "", "x", "", ""]), "OBX|1||x");
        assert_eq!(segment("PV1", &["", ""]), "PV1");
    }
}
