//! A minimal POSIX ustar archive writer, so a record (header, signal file, annotations)
//! downloads as one file that any `tar` unpacks.

use crate::error::WfdbError;

const BLOCK: usize = 512;

/// Regular files `(name, bytes)` in one ustar archive, mode 0644, modification time
/// `mtime_s` (Unix seconds). Names are at most 100 bytes, plain ASCII.
pub fn write_tar(files: &[(&str, &[u8])], mtime_s: u64) -> Result<Vec<u8>, WfdbError> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        if name.is_empty() || name.len() > 100 || !name.is_ascii() || name.contains('\0') {
            return Err(WfdbError::Format(format!(
                "bad archive member name {name:?}"
            )));
        }
        let mut header = [0u8; BLOCK];
        header[..name.len()].copy_from_slice(name.as_bytes());
        put_octal(&mut header[100..108], 0o644);
        put_octal(&mut header[108..116], 0);
        put_octal(&mut header[116..124], 0);
        put_octal(&mut header[124..136], bytes.len() as u64);
        put_octal(&mut header[136..148], mtime_s);
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field read as spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(bytes);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    // Two zero blocks end the archive.
    out.resize(out.len() + 2 * BLOCK, 0);
    Ok(out)
}

/// Zero-padded octal filling the field but its last byte (NUL).
fn put_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    field[..width].copy_from_slice(&text.as_bytes()[text.len() - width..]);
    field[width] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_sit_on_block_boundaries_with_a_valid_checksum() {
        let tar = write_tar(&[("a.hea", b"hello"), ("a.dat", &[1u8; 600])], 1).expect("tar");
        assert_eq!(tar.len(), 512 + 512 + 512 + 1024 + 1024);
        assert_eq!(&tar[..5], b"a.hea");
        assert_eq!(&tar[124..135], b"00000000005");
        let stored = u32::from_str_radix(std::str::from_utf8(&tar[148..154]).expect("ascii"), 8)
            .expect("octal");
        let mut copy = tar[..512].to_vec();
        copy[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, copy.iter().map(|&b| u32::from(b)).sum::<u32>());
        assert_eq!(&tar[1024..1029], b"a.dat");
        assert!(write_tar(&[("", b"")], 0).is_err());
    }
}
