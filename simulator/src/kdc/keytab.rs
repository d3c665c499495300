//! MIT keytab files, format version 0x502 (MIT krb5 "keytab file format" doc): every integer
//! big-endian; each entry is a signed 32-bit size followed by the principal (component count
//! without the realm, counted realm, counted components, name type), timestamp, 8-bit kvno,
//! key (enctype, counted key bytes) and the full 32-bit kvno.

use thiserror::Error;

use super::db::KdcPrincipal;

#[derive(Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    pub realm: String,
    /// Principal components without the realm: `["WEB01$"]`, `["HTTP", "web01.corp.test"]`.
    pub components: Vec<String>,
    pub name_type: u32,
    /// Seconds since the Unix epoch when the key was written.
    pub timestamp: u32,
    pub kvno: u32,
    pub etype: i32,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeytabEntry")
            .field(
                "principal",
                &format!("{}@{}", self.components.join("/"), self.realm),
            )
            .field("kvno", &self.kvno)
            .field("etype", &self.etype)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeytabError {
    #[error("keytab truncated")]
    Truncated,
    #[error("not a version 0x502 keytab")]
    BadVersion,
    #[error("keytab field too long")]
    TooLong,
    #[error("keytab string not UTF-8")]
    BadString,
}

/// Keytab entries for an account: every current and previous key (so a host can still open
/// tickets issued before a gMSA rollover), under the sAMAccountName and each extra name
/// (e.g. `["host", "web01.corp.example.test"]`). Name type 1 (NT-PRINCIPAL), as ktpass and
/// MIT ktutil write.
pub fn entries_for_principal(
    principal: &KdcPrincipal,
    extra_names: &[Vec<String>],
    timestamp: u32,
) -> Vec<KeytabEntry> {
    let mut names = vec![vec![principal.sam_account_name.clone()]];
    names.extend(extra_names.iter().cloned());
    let mut out = Vec::new();
    for components in names {
        for key in principal.keys.iter().chain(&principal.previous_keys) {
            out.push(KeytabEntry {
                realm: principal.realm.clone(),
                components: components.clone(),
                name_type: 1,
                timestamp,
                kvno: key.kvno,
                etype: key.etype,
                key: key.key.clone(),
            });
        }
    }
    out
}

fn counted(out: &mut Vec<u8>, data: &[u8]) -> Result<(), KeytabError> {
    let len = u16::try_from(data.len()).map_err(|_| KeytabError::TooLong)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

fn entry_bytes(e: &KeytabEntry) -> Result<Vec<u8>, KeytabError> {
    let mut b = Vec::new();
    let count = u16::try_from(e.components.len()).map_err(|_| KeytabError::TooLong)?;
    b.extend_from_slice(&count.to_be_bytes());
    counted(&mut b, e.realm.as_bytes())?;
    for c in &e.components {
        counted(&mut b, c.as_bytes())?;
    }
    b.extend_from_slice(&e.name_type.to_be_bytes());
    b.extend_from_slice(&e.timestamp.to_be_bytes());
    b.push(e.kvno as u8); // low 8 bits; the full kvno follows the key
    let etype = u16::try_from(e.etype).map_err(|_| KeytabError::TooLong)?;
    b.extend_from_slice(&etype.to_be_bytes());
    counted(&mut b, &e.key)?;
    b.extend_from_slice(&e.kvno.to_be_bytes());
    Ok(b)
}

/// Serializes entries into a keytab file.
pub fn write_keytab(entries: &[KeytabEntry]) -> Result<Vec<u8>, KeytabError> {
    let mut out = vec![0x05, 0x02];
    for e in entries {
        let b = entry_bytes(e)?;
        let size = i32::try_from(b.len()).map_err(|_| KeytabError::TooLong)?;
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&b);
    }
    Ok(out)
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KeytabError> {
        let s = self.b.get(self.pos..self.pos + n).ok_or(KeytabError::Truncated)?;
        self.pos += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, KeytabError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, KeytabError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn string(&mut self) -> Result<String, KeytabError> {
        let n = usize::from(self.u16()?);
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| KeytabError::BadString)
    }
}

/// Parses a keytab written by `write_keytab` or MIT's ktutil (deleted entries, negative sizes,
/// are skipped).
pub fn read_keytab(bytes: &[u8]) -> Result<Vec<KeytabEntry>, KeytabError> {
    if bytes.get(..2) != Some(&[0x05, 0x02]) {
        return Err(KeytabError::BadVersion);
    }
    let mut c = Cursor { b: bytes, pos: 2 };
    let mut out = Vec::new();
    while c.pos < bytes.len() {
        let size = c.u32()? as i32;
        if size < 0 {
            c.take(size.unsigned_abs() as usize)?;
            continue;
        }
        let record = c.take(size as usize)?;
        let mut r = Cursor { b: record, pos: 0 };
        let count = r.u16()?;
        let realm = r.string()?;
        let components = (0..count).map(|_| r.string()).collect::<Result<Vec<_>, _>>()?;
        let name_type = r.u32()?;
        let timestamp = r.u32()?;
        let kvno8 = r.take(1)?[0];
        let etype = i32::from(r.u16()?);
        let key_len = usize::from(r.u16()?);
        let key = r.take(key_len)?.to_vec();
        let kvno = if record.len() >= r.pos + 4 {
            r.u32()?
        } else {
            u32::from(kvno8)
        };
        out.push(KeytabEntry {
            realm,
            components,
            name_type,
            timestamp,
            kvno,
            etype,
            key,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kvno: u32) -> KeytabEntry {
        KeytabEntry {
            realm: "CORP.EXAMPLE.TEST".into(),
            components: vec!["HTTP".into(), "web01.corp.example.test".into()],
            name_type: 1,
            timestamp: 1_700_000_000,
            kvno,
            etype: 18,
            key: vec![0x11; 32],
        }
    }

    #[test]
    fn layout_is_mit_0x502() {
        let bytes = write_keytab(&[entry(3)]).unwrap();
        assert_eq!(&bytes[..2], &[5, 2]);
        let size = u32::from_be_bytes(bytes[2..6].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), 6 + size);
        assert_eq!(&bytes[6..8], &[0, 2], "component count excludes the realm");
        assert_eq!(&bytes[bytes.len() - 4..], &3u32.to_be_bytes());
    }

    #[test]
    fn round_trips_including_large_kvno() {
        let entries = vec![entry(2), entry(300)];
        assert_eq!(read_keytab(&write_keytab(&entries).unwrap()).unwrap(), entries);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(read_keytab(b"\x05\x01"), Err(KeytabError::BadVersion));
        let bytes = write_keytab(&[entry(2)]).unwrap();
        for cut in 3..bytes.len() {
            assert!(read_keytab(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", entry(1)).contains("17, 17"));
    }
}
