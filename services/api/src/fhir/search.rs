//! FHIR search parameters the facade reads (`date`, `_lastUpdated` with the `ge gt le lt
//! eq` prefixes; `_count`, `_offset`), and searchset `Bundle`s with paging links.

use crate::error::ApiError;
use cw_core::time::{Nanos, parse_instant};
use serde_json::{Value, json};

/// Page size when `_count` is absent, and its ceiling.
pub const DEFAULT_COUNT: usize = 20;
pub const MAX_COUNT: usize = 100;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid {
        field: Some(field.into()),
        message: message.into(),
    }
}

/// The raw query as (name, value) pairs, repeated names kept (`date=ge…&date=lt…`).
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Refuses a parameter outside `known`: a misspelt one must not widen a search.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(invalid(k, format!("unsupported search parameter {k}"))),
            None => Ok(()),
        }
    }

    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(invalid(name, format!("{name} may be given once")));
        }
        Ok(first)
    }

    /// A `[from, to)` range from every `name` parameter (each `ge|gt|le|lt|eq` + a
    /// dateTime; `eq`, the default, of a date covers that day). Unbounded ends are `None`.
    pub fn range(&self, name: &str) -> Result<(Option<Nanos>, Option<Nanos>), ApiError> {
        self.range_of(&[name])
    }

    /// [`Self::range`] of every parameter in `names` together: the instants all of them
    /// admit (`date` and `_lastUpdated` of an AuditEvent are both its recorded time).
    pub fn range_of(&self, names: &[&str]) -> Result<(Option<Nanos>, Option<Nanos>), ApiError> {
        let (mut from, mut to): (Option<Nanos>, Option<Nanos>) = (None, None);
        for (name, v) in self.0.iter().filter(|(k, _)| names.contains(&k.as_str())) {
            let (prefix, text) = match v.get(..2) {
                Some(p @ ("ge" | "gt" | "le" | "lt" | "eq")) => (p, &v[2..]),
                _ => ("eq", v.as_str()),
            };
            let at = parse_instant(text)
                .ok_or_else(|| invalid(name, format!("{name}: {text:?} is not a FHIR dateTime")))?;
            // A date alone (or eq) is the whole day; an instant is that nanosecond.
            let span = if text.len() == 10 {
                86_400 * 1_000_000_000
            } else {
                1
            };
            let end = at
                .checked_add(span)
                .ok_or_else(|| invalid(name, "out of range"))?;
            let (lo, hi) = match prefix {
                "ge" => (Some(at), None),
                "gt" => (Some(end), None),
                "le" => (None, Some(end)),
                "lt" => (None, Some(at)),
                _ => (Some(at), Some(end)),
            };
            if let Some(lo) = lo {
                from = Some(from.map_or(lo, |f| f.max(lo)));
            }
            if let Some(hi) = hi {
                to = Some(to.map_or(hi, |t| t.min(hi)));
            }
        }
        Ok((from, to))
    }

    /// (`_offset`, `_count`) of the page asked for.
    pub fn page(&self) -> Result<(usize, usize), ApiError> {
        let number = |name: &str| -> Result<Option<usize>, ApiError> {
            self.one(name)?
                .map(|v| {
                    v.parse::<usize>()
                        .map_err(|_| invalid(name, format!("{name} is a whole number")))
                })
                .transpose()
        };
        let count = number("_count")?.unwrap_or(DEFAULT_COUNT);
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(invalid("_count", format!("_count is 1 to {MAX_COUNT}")));
        }
        Ok((number("_offset")?.unwrap_or(0), count))
    }
}

/// Whether `t` lies in a `[from, to)` range of [`Params::range`] (open ends match all).
pub fn within(t: Nanos, (from, to): (Option<Nanos>, Option<Nanos>)) -> bool {
    from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e)
}

/// A searchset Bundle of one page of `all`, with `self` and (when more follow) `next`
/// links that repeat the query with another `_offset`.
pub fn bundle(base: &str, params: &Params, all: Vec<Value>, offset: usize, count: usize) -> Value {
    let total = all.len();
    let page = all.into_iter().skip(offset).take(count).collect();
    bundle_page(base, params, total, page, offset, count)
}

/// [`bundle`] of a page made by the caller (`page`, from `offset`, of `total` matches):
/// for searches that open only the resources shown (a Patient's PHI).
pub fn bundle_page(
    base: &str,
    params: &Params,
    total: usize,
    page: Vec<Value>,
    offset: usize,
    count: usize,
) -> Value {
    let link = |offset: usize| {
        let mut query: Vec<String> = params
            .0
            .iter()
            .filter(|(k, _)| k != "_offset" && k != "_count")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("_count={count}"));
        query.push(format!("_offset={offset}"));
        format!("{base}?{}", query.join("&"))
    };
    let mut links = vec![json!({"relation": "self", "url": link(offset)})];
    if offset.saturating_add(count) < total {
        links.push(json!({"relation": "next", "url": link(offset + count)}));
    }
    if offset > 0 {
        links.push(json!({"relation": "previous", "url": link(offset.saturating_sub(count))}));
    }
    let entries: Vec<Value> = page
        .into_iter()
        .map(|resource| {
            let mut entry = json!({"search": {"mode": "match"}});
            if let (Some(t), Some(id)) =
                (resource["resourceType"].as_str(), resource["id"].as_str())
            {
                entry["fullUrl"] = json!(format!(
                    "{}/{t}/{id}",
                    base.rsplit_once('/').map_or(base, |b| b.0)
                ));
            }
            entry["resource"] = resource;
            entry
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": entries,
    })
}

/// Percent-encodes what a query value may not hold as is.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn date_prefixes_narrow_one_range() {
        let p = params(&[
            ("date", "ge2025-12-06T05:46:40Z"),
            ("date", "lt2025-12-06T05:47:40Z"),
        ]);
        let s = 1_765_000_000_000_000_000;
        assert_eq!(
            p.range("date").expect("valid"),
            (Some(s), Some(s + 60_000_000_000))
        );
        let day = params(&[("date", "2025-12-06")])
            .range("date")
            .expect("valid");
        assert_eq!(
            day.1.zip(day.0).map(|(b, a)| b - a),
            Some(86_400_000_000_000)
        );
        assert!(params(&[("date", "gt-yesterday")]).range("date").is_err());
        assert_eq!(params(&[]).range("date").expect("none"), (None, None));
    }

    #[test]
    fn pages_link_to_the_next_and_previous_with_the_same_query() {
        let p = params(&[("patient", "p 1"), ("_count", "2"), ("_offset", "2")]);
        let (offset, count) = p.page().expect("page");
        let all: Vec<Value> = (0..5)
            .map(|i| json!({"resourceType": "Flag", "id": format!("f{i}")}))
            .collect();
        let b = bundle("https://h/fhir/R4/Flag", &p, all, offset, count);
        assert_eq!(b["total"], 5);
        assert_eq!(b["entry"].as_array().map(Vec::len), Some(2));
        assert_eq!(b["entry"][0]["resource"]["id"], "f2");
        assert_eq!(b["entry"][0]["fullUrl"], "https://h/fhir/R4/Flag/f2");
        assert_eq!(
            b["link"][1]["url"],
            "https://h/fhir/R4/Flag?patient=p%201&_count=2&_offset=4"
        );
        assert_eq!(b["link"][2]["relation"], "previous");
        assert!(params(&[("_count", "0")]).page().is_err());
        assert!(params(&[("_count", "x")]).page().is_err());
        assert!(params(&[("bogus", "1")]).only(&["patient"]).is_err());
    }
}
