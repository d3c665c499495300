//! `attr:< URL` values (RFC 2849 `value-spec`): only `file:` URLs (RFC 8089) are read.

use std::path::{Path, PathBuf};

/// Turns a `file:` URL into a path. Accepted forms: `file:///abs/path`,
/// `file://localhost/abs/path`, `file:/abs/path` and `file:relative/path` (resolved against
/// `base_dir`). Percent-escapes are decoded.
pub(crate) fn file_url_to_path(url: &str, base_dir: Option<&Path>) -> Result<PathBuf, String> {
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(format!(
            "expected a URL such as file:///path/to/value, found `{}`",
            shorten(url)
        ));
    };
    if !scheme.eq_ignore_ascii_case("file") {
        return Err(format!(
            "unsupported URL scheme `{}`: only file: URLs are read (e.g. file:///path/to/value)",
            shorten(scheme)
        ));
    }
    let path_part = if let Some(after) = rest.strip_prefix("//") {
        // RFC 8089 §2: file://host/path; only an empty host or "localhost" means this machine.
        let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
        if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
            return Err(format!(
                "file URL names the remote host `{}`: only local files are read",
                shorten(host)
            ));
        }
        if path.is_empty() {
            return Err("file URL has no path: expected file:///path/to/value".to_string());
        }
        path
    } else {
        rest
    };
    if path_part.is_empty() {
        return Err("file URL has no path: expected file:///path/to/value".to_string());
    }
    let decoded = percent_decode(path_part)?;
    let path = PathBuf::from(decoded);
    if path.is_absolute() {
        return Ok(path);
    }
    match base_dir {
        Some(base) => Ok(base.join(path)),
        None => Err(format!(
            "relative file URL `{}` needs a base directory (ParseOptions::base_dir or parse_file)",
            shorten(url)
        )),
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            match hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()) {
                Some(b) => out.push(b),
                None => return Err(format!("bad percent-escape in file URL path `{}`", shorten(text))),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("file URL path `{}` is not UTF-8 once decoded", shorten(text)))
}

/// Keeps error messages readable when the offending text is huge.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let base = Path::new("/base");
        assert_eq!(
            file_url_to_path("file:///a/b%20c", None).unwrap(),
            PathBuf::from("/a/b c")
        );
        assert_eq!(
            file_url_to_path("FILE://localhost/x", None).unwrap(),
            PathBuf::from("/x")
        );
        assert_eq!(file_url_to_path("file:/x", None).unwrap(), PathBuf::from("/x"));
        assert_eq!(
            file_url_to_path("file:rel/v.bin", Some(base)).unwrap(),
            PathBuf::from("/base/rel/v.bin")
        );
        assert!(file_url_to_path("file:rel", None)
            .unwrap_err()
            .contains("base directory"));
        assert!(file_url_to_path("http://x/y", None)
            .unwrap_err()
            .contains("scheme `http`"));
        assert!(file_url_to_path("file://server/share", None)
            .unwrap_err()
            .contains("remote host"));
        assert!(file_url_to_path("file:///a%zz", None)
            .unwrap_err()
            .contains("percent"));
        assert!(file_url_to_path("file:///%", None).is_err());
        assert!(file_url_to_path("/no/scheme", None)
            .unwrap_err()
            .contains("expected a URL"));
        assert!(file_url_to_path("file://", None).is_err());
    }
}
