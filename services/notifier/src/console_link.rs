//! The link a page carries to its alert in the clinician's console (issue 16 item 7,
//! docs/console.md "Deep links"): `{console_url}#/patient/{patient}/alert/{alert}`.
//!
//! Only opaque ids go in it, never PHI: the URL crosses SMS and email networks and lands
//! in phone and mail logs. It grants nothing by itself: the console asks for sign-in and
//! then opens the alert, and the api decides whether the signed-in user may see it.

use cw_core::Alert;
use url::Url;

/// The console's public base URL, checked once at start.
#[derive(Clone, Debug)]
pub struct ConsoleLinks {
    base: Url,
}

/// Why `console_url` cannot be used; the notifier refuses to start rather than send
/// pages with a dead link.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleUrlError {
    #[error("console_url `{0}` is not an absolute URL ({1})")]
    NotAbsolute(String, url::ParseError),
    #[error("console_url `{0}` must be https: the console is served only over TLS")]
    NotHttps(String),
    #[error("console_url `{0}` must not carry a query or fragment: the link adds its own")]
    HasQueryOrFragment(String),
}

impl ConsoleLinks {
    /// `None` when no console URL is configured (or it is empty, as compose leaves an
    /// unset variable): pages then go without a link.
    pub fn from_config(console_url: Option<&str>) -> Result<Option<Self>, ConsoleUrlError> {
        let Some(raw) = console_url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let mut base =
            Url::parse(raw).map_err(|e| ConsoleUrlError::NotAbsolute(raw.to_owned(), e))?;
        if base.scheme() != "https" {
            return Err(ConsoleUrlError::NotHttps(raw.to_owned()));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ConsoleUrlError::HasQueryOrFragment(raw.to_owned()));
        }
        // `…/console` and `…/console/` both name the console; the page's own routes are
        // in the fragment, after the slash.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Some(Self { base }))
    }

    /// The alert detail page of `alert`. Ids are `[A-Za-z0-9_-]` (`cw_core::ids`), so
    /// they need no escaping in a fragment.
    pub fn alert(&self, alert: &Alert) -> String {
        let mut url = self.base.clone();
        url.set_fragment(Some(&format!(
            "/patient/{}/alert/{}",
            alert.patient, alert.id
        )));
        url.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{PatientId, Priority, RuleKind};

    fn link(base: &str, alert: &Alert) -> String {
        ConsoleLinks::from_config(Some(base))
            .expect("valid")
            .expect("configured")
            .alert(alert)
    }

    #[test]
    fn the_link_opens_the_alert_detail_route_of_the_console() {
        let alert = Alert::firing(PatientId::random(), RuleKind::HrHigh, Priority::High, 1);
        let want = format!(
            "https://cw.hospital.test:8444/console/#/patient/{}/alert/{}",
            alert.patient, alert.id
        );
        assert_eq!(link("https://cw.hospital.test:8444/console/", &alert), want);
        assert_eq!(link("https://cw.hospital.test:8444/console", &alert), want);
    }

    #[test]
    fn no_url_no_link_and_a_bad_one_is_refused() {
        assert!(ConsoleLinks::from_config(None).expect("ok").is_none());
        assert!(ConsoleLinks::from_config(Some(" ")).expect("ok").is_none());
        for bad in [
            "cw.hospital.test/console/",
            "http://cw.hospital.test/console/",
            "https://cw.hospital.test/console/?a=1",
            "https://cw.hospital.test/console/#/worklist",
        ] {
            assert!(ConsoleLinks::from_config(Some(bad)).is_err(), "{bad}");
        }
    }
}
