//! A credential the command line takes as a value (`--secret`, `CW_…`) or as a file
//! (`--secret-file`, `CW_…_FILE`: a compose or Kubernetes secret), the same rule the
//! services' config follows (docs/config.md): exactly one of the two.

use anyhow::{Context, bail};
use std::path::Path;

/// The credential, `None` when neither is given. `what` names both forms for errors.
pub fn resolve(
    value: Option<String>,
    file: Option<&Path>,
    what: &str,
) -> anyhow::Result<Option<String>> {
    match (value.filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => bail!("{what}: give the value or its file, not both"),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{what}: reading {}", path.display()))?;
            // Secret files often end in a newline; the credential does not.
            let text = text.strip_suffix('\n').unwrap_or(&text);
            Ok(Some(text.strip_suffix('\r').unwrap_or(text).to_owned()))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_or_the_other() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").expect("write");
        assert_eq!(
            resolve(None, Some(&file), "x").expect("reads"),
            Some("s3cret".to_owned())
        );
        assert_eq!(
            resolve(Some("v".into()), None, "x").expect("value"),
            Some("v".to_owned())
        );
        assert_eq!(resolve(None, None, "x").expect("none"), None);
        let both = resolve(Some("v".into()), Some(&file), "--secret").expect_err("both");
        assert!(both.to_string().contains("not both"), "{both}");
        let missing =
            resolve(None, Some(&dir.path().join("nope")), "--secret").expect_err("missing file");
        assert!(format!("{missing:#}").contains("nope"), "{missing:#}");
    }
}
