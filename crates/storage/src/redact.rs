//! Store addresses fit for logs and error messages: the credentials a URL or MongoDB
//! connection string may carry (`user:password@`, query options such as
//! `tlsCertificateKeyFilePassword`) are dropped.

/// `scheme://hosts/path` of `raw`, without `userinfo@` or the query. Handles MongoDB's
/// host lists (`h1,h2`), which URL parsers reject.
pub fn url(raw: &str) -> String {
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, raw),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // The last `@`: a password may hold `@` or `/`, host names and paths do not.
    let rest = rest.rsplit_once('@').map_or(rest, |(_, hosts)| hosts);
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn credentials_and_query_are_dropped() {
        assert_eq!(
            url(
                "mongodb://api:s3cret@db1:27017,db2:27017/cardiowatch?replicaSet=rs0&tlsCertificateKeyFilePassword=x"
            ),
            "mongodb://db1:27017,db2:27017/cardiowatch"
        );
        assert_eq!(url("https://u:p@influx:8086/"), "https://influx:8086/");
        assert_eq!(url("http://127.0.0.1:8086"), "http://127.0.0.1:8086");
    }

    #[test]
    fn an_at_sign_or_slash_in_the_password_does_not_leak_it() {
        assert_eq!(url("mongodb://u:p@ss@db:27017"), "mongodb://db:27017");
        assert_eq!(url("mongodb://u:p/ss@db:27017/x"), "mongodb://db:27017/x");
    }
}
