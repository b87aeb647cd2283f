//! The top-level keys a config struct accepts, read off its `Deserialize` impl, so a
//! misspelt top-level key in a service's TOML file is an error instead of a silently
//! applied default. (Sections are strict already: `deny_unknown_fields`. The top level
//! cannot be, because `CW_*` variables that are not config — `CW_LOG_FORMAT`,
//! `CW_DEVICE_TOKEN` — land there; only the file's keys are checked.)

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::cell::Cell;

/// The field names `T` deserialises as a struct, or `None` when `T` is not a plain struct
/// (then nothing is checked).
pub(crate) fn struct_fields<T: for<'de> Deserialize<'de>>() -> Option<&'static [&'static str]> {
    let seen = Cell::new(None);
    // The probe answers every request with an error after noting the field list, so
    // this never builds a `T`.
    let _ = T::deserialize(Probe(&seen));
    seen.get()
}

struct Probe<'a>(&'a Cell<Option<&'static [&'static str]>>);

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(Some(fields));
        Err(de::Error::custom("probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Plain {
        listen: String,
        #[serde(rename = "alert_endpoints")]
        endpoints: Vec<String>,
    }

    #[test]
    fn a_structs_fields_are_read_off_its_deserialize_impl() {
        assert_eq!(
            struct_fields::<Plain>(),
            Some(&["listen", "alert_endpoints"][..])
        );
        assert_eq!(
            struct_fields::<std::collections::HashMap<String, u8>>(),
            None
        );
    }
}
