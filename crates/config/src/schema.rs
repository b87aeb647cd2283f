//! Every key a config type accepts, read off its `Deserialize` impl: its path, its type,
//! whether it may be left out, an enum's values. `docs/config.md` is generated from this
//! (`cardiowatch config-doc`), and [`crate::load`] warns about `CW_*` variables that name
//! no key. Reading the impl (not a hand-kept list) is what keeps both true: a key added to
//! a struct appears in the doc and is accepted from the environment at once.
//!
//! How: a deserializer that answers every request with a placeholder value (0, "", false,
//! empty lists, an enum's first value) and notes what was asked at which path. Types with
//! their own validating `Deserialize` may refuse a placeholder; the keys seen until then
//! are kept.

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};
use std::cell::RefCell;

/// One key of a config, e.g. `storage.influx.url`.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// Table names then the key; an array's element is the segment `[]`.
    pub path: Vec<String>,
    pub kind: Kind,
    /// An `Option`: leaving it out means "none", not a default value.
    pub optional: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Bool,
    Integer,
    Float,
    String,
    /// Its element is the key at `path + "[]"`.
    Array,
    /// Any keys (a map from names to values).
    Map,
    /// A section (a struct): its keys follow.
    Table,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// Not a plain TOML type (a custom `Deserialize`).
    Other,
}

impl Key {
    /// `storage.influx.url`
    pub fn dotted(&self) -> String {
        self.path.join(".").replace(".[]", "[]")
    }

    /// The `CW_*` variable that sets this key, or `None` inside an array (a whole array
    /// is set at once, as a TOML literal).
    pub fn env_var(&self) -> Option<String> {
        if self.path.iter().any(|p| p == "[]") {
            return None;
        }
        Some(format!("CW_{}", self.path.join("__").to_ascii_uppercase()))
    }
}

/// Every key of `T`, sections before their keys, in declaration order.
pub fn keys<T: de::DeserializeOwned>() -> Vec<Key> {
    let seen = RefCell::new(Vec::new());
    let _ = T::deserialize(Probe {
        seen: &seen,
        path: Vec::new(),
        optional: false,
    });
    seen.into_inner()
}

#[derive(Clone)]
struct Probe<'a> {
    seen: &'a RefCell<Vec<Key>>,
    path: Vec<String>,
    optional: bool,
}

impl Probe<'_> {
    fn note(&self, kind: Kind) {
        if self.path.is_empty() {
            return;
        }
        let mut seen = self.seen.borrow_mut();
        // A type asked twice (an untagged retry) is noted once.
        if seen.iter().any(|k| k.path == self.path) {
            return;
        }
        seen.push(Key {
            path: self.path.clone(),
            kind,
            optional: self.optional,
        });
    }

    fn child(&self, segment: &str) -> Self {
        let mut path = self.path.clone();
        path.push(segment.to_owned());
        Self {
            seen: self.seen,
            path,
            optional: false,
        }
    }
}

type Error = de::value::Error;

macro_rules! placeholder {
    ($($method:ident => $kind:ident, $visit:ident($($value:expr)?);)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.note(Kind::$kind);
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = Error;

    placeholder! {
        deserialize_bool => Bool, visit_bool(false);
        deserialize_i8 => Integer, visit_i8(0);
        deserialize_i16 => Integer, visit_i16(0);
        deserialize_i32 => Integer, visit_i32(0);
        deserialize_i64 => Integer, visit_i64(0);
        deserialize_u8 => Integer, visit_u8(0);
        deserialize_u16 => Integer, visit_u16(0);
        deserialize_u32 => Integer, visit_u32(0);
        deserialize_u64 => Integer, visit_u64(0);
        deserialize_f32 => Float, visit_f32(0.0);
        deserialize_f64 => Float, visit_f64(0.0);
        deserialize_char => String, visit_char('x');
        deserialize_str => String, visit_str("");
        deserialize_string => String, visit_string(String::new());
        deserialize_bytes => Other, visit_bytes(&[]);
        deserialize_byte_buf => Other, visit_byte_buf(Vec::new());
        deserialize_unit => Other, visit_unit();
        deserialize_identifier => String, visit_str("");
        deserialize_ignored_any => Other, visit_unit();
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::Other);
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(Probe {
            optional: true,
            ..self
        })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::Array);
        visitor.visit_seq(OneElement(Some(self.child("[]"))))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::Map);
        visitor.visit_map(de::value::MapDeserializer::new(std::iter::empty::<(
            String,
            String,
        )>()))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.note(Kind::Table);
        visitor.visit_map(Fields {
            probe: self,
            fields: fields.iter(),
            current: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.note(Kind::Enum(variants));
        let first = variants.first().copied().unwrap_or_default();
        visitor.visit_enum(first.into_deserializer())
    }
}

/// A sequence of one placeholder element, so the element's type is noted too.
struct OneElement<'a>(Option<Probe<'a>>);

impl<'de> de::SeqAccess<'de> for OneElement<'_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        match self.0.take() {
            Some(probe) => seed.deserialize(probe).map(Some),
            None => Ok(None),
        }
    }
}

/// Every field of a struct, each with a placeholder value.
struct Fields<'a> {
    probe: Probe<'a>,
    fields: std::slice::Iter<'static, &'static str>,
    current: Option<&'static str>,
}

impl<'de> de::MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(&field) = self.fields.next() else {
            return Ok(None);
        };
        self.current = Some(field);
        seed.deserialize(field.into_deserializer()).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let field = self.current.take().unwrap_or_default();
        seed.deserialize(self.probe.child(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Backend {
        Embedded,
        Servers,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        url: String,
        port: u16,
        password: Option<String>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Cfg {
        listen: String,
        backend: Backend,
        inner: Inner,
        twilio: Option<Inner>,
        shards: Vec<u16>,
        users: std::collections::BTreeMap<String, String>,
        ratio: f64,
        on: bool,
    }

    #[test]
    fn every_key_with_its_type_is_read_off_the_deserialize_impl() {
        let keys = keys::<Cfg>();
        let listed: Vec<(String, Kind, bool)> = keys
            .iter()
            .map(|k| (k.dotted(), k.kind.clone(), k.optional))
            .collect();
        let expected = vec![
            ("listen", Kind::String, false),
            ("backend", Kind::Enum(&["embedded", "servers"]), false),
            ("inner", Kind::Table, false),
            ("inner.url", Kind::String, false),
            ("inner.port", Kind::Integer, false),
            ("inner.password", Kind::String, true),
            ("twilio", Kind::Table, true),
            ("twilio.url", Kind::String, false),
            ("twilio.port", Kind::Integer, false),
            ("twilio.password", Kind::String, true),
            ("shards", Kind::Array, false),
            ("shards[]", Kind::Integer, false),
            ("users", Kind::Map, false),
            ("ratio", Kind::Float, false),
            ("on", Kind::Bool, false),
        ];
        let expected: Vec<(String, Kind, bool)> = expected
            .into_iter()
            .map(|(p, k, o)| (p.to_owned(), k, o))
            .collect();
        assert_eq!(listed, expected);
        let port = keys
            .iter()
            .find(|k| k.dotted() == "inner.port")
            .expect("port");
        assert_eq!(port.env_var().as_deref(), Some("CW_INNER__PORT"));
        let element = keys
            .iter()
            .find(|k| k.dotted() == "shards[]")
            .expect("element");
        assert_eq!(element.env_var(), None);
    }
}
