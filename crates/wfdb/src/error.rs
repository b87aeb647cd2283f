use std::path::Path;

/// Everything that can go wrong while reading a WFDB record or annotation file.
#[derive(Debug, thiserror::Error)]
pub enum WfdbError {
    /// File could not be read; the message names the file.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad header: {0}")]
    Header(String),
    #[error("bad data: {0}")]
    Format(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl WfdbError {
    /// Keep the error kind but say which file it was about, which a bare io::Error does not.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        WfdbError::Io(std::io::Error::new(
            source.kind(),
            format!("{}: {source}", path.display()),
        ))
    }
}
