//! Version 3 of the snapshot file: the compact encoding (issue 12: a file and a write time
//! within 2× slapcat's LDIF at 100,000 users).
//!
//! ```text
//! adsim-snapshot 3 <sha256 of the body, 64 hex>\n      the header, one line of text
//! body:
//!   varint n, n bytes      the content object of version 2 as JSON (forest, seed, clock,
//!                          rid_pools, rng, sysvol, store.next_id and store.usn) with
//!                          `store.entries` empty
//!   records, each a tag byte:
//!     1 name               varint n, n bytes: the next attribute (or link) name, UTF-8; names
//!                          are numbered from 0 in the order they are defined
//!     2 descriptor         varint name, varint count, count × (varint n, n bytes): the next
//!                          shared attribute (an nTSecurityDescriptor with its values), numbered
//!                          from 0 — each distinct descriptor is written once (AD's SD table)
//!     3 entry              varint id, varint parent+1 (0: none), varint n, n bytes DN text,
//!                          varint attrs, each: varint name, then either 0 and varint descriptor
//!                          or varint count ≥ 1, count × (varint n, n bytes) raw values;
//!                          varint links, each: varint name, varint count, count × varint id;
//!                          secrets: 0, or 1 and [`write_secrets`]' bytes
//!     0 end                nothing may follow
//! ```
//!
//! Varints are unsigned LEB128. Values are raw bytes (no base64, no escaping); names and
//! descriptors are written once and referred to by number. The writer streams entry by entry
//! from the snapshot's O(1) copy of the store; the reader checks the checksum first (a flipped
//! byte or a truncated file is "corrupt: checksum mismatch"), then refuses malformed content
//! (an unknown name or descriptor number, a repeated attribute, counts past the data) with an
//! error, never a panic, and allocates only as the bytes it reads arrive.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;

use crate::model::{AccountSecrets, Attr, Dn, Entry, EntryId, Name};

use super::file::{malformed, SnapshotFileError};

/// The start of every version 3 file; the version number and the checksum follow.
pub(super) const MAGIC: &[u8] = b"adsim-snapshot ";
/// The version this module writes.
pub(super) const VERSION: u32 = 3;
/// The header's length: [`MAGIC`], `3 `, 64 hex digits and a newline.
pub(super) const HEAD_LEN: usize = MAGIC.len() + 2 + 64 + 1;

const END: u8 = 0;
const NAME: u8 = 1;
const DESCRIPTOR: u8 = 2;
const ENTRY: u8 = 3;

/// How deep the chain of previous keys may go (a gMSA keeps one; the bound stops a crafted file
/// from recursing without end).
const MAX_PREVIOUS: usize = 16;

/// The header with the checksum `sum` (64 hex digits).
pub(super) fn header(sum: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEAD_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(format!("{VERSION} ").as_bytes());
    h.extend_from_slice(sum);
    h.push(b'\n');
    h
}

/// What a header says: the version, and for version 3 the checksum's hex digits.
pub(super) enum Header<'a> {
    V3 { sum: &'a [u8] },
    Other(u32),
    Damaged,
}

pub(super) fn parse_header(head: &[u8]) -> Header<'_> {
    let Some(rest) = head.strip_prefix(MAGIC) else {
        return Header::Damaged;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let version = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(VERSION) => match rest[digits..].strip_prefix(b" ") {
            Some(tail) if tail.len() >= 65 && tail[64] == b'\n' => Header::V3 { sum: &tail[..64] },
            _ => Header::Damaged,
        },
        Some(v) => Header::Other(v),
        None => Header::Damaged,
    }
}

fn put_varint(out: &mut impl Write, mut v: u64) -> std::io::Result<()> {
    let mut buf = [0u8; 10];
    let mut n = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf[n] = byte;
            n += 1;
            break;
        }
        buf[n] = byte | 0x80;
        n += 1;
    }
    out.write_all(&buf[..n])
}

fn put_bytes(out: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
    put_varint(out, b.len() as u64)?;
    out.write_all(b)
}

/// The body's writer: the name and descriptor tables so far.
pub(super) struct Writer<'a> {
    names: HashMap<&'a str, u64>,
    /// Descriptors by their shared allocation (the model keeps one per distinct content)…
    by_ptr: HashMap<*const Attr, u64>,
    /// …and by content, so the numbering never depends on how memory is shared.
    by_content: HashMap<(&'a str, &'a [Vec<u8>]), u64>,
}

impl<'a> Writer<'a> {
    /// Starts the body with the content object (`content`, JSON with no entries).
    pub(super) fn start(out: &mut impl Write, content: &[u8]) -> std::io::Result<Writer<'a>> {
        put_bytes(out, content)?;
        Ok(Writer {
            names: HashMap::new(),
            by_ptr: HashMap::new(),
            by_content: HashMap::new(),
        })
    }

    fn name(&mut self, out: &mut impl Write, name: &'a str) -> std::io::Result<u64> {
        if let Some(&n) = self.names.get(name) {
            return Ok(n);
        }
        let n = self.names.len() as u64;
        out.write_all(&[NAME])?;
        put_bytes(out, name.as_bytes())?;
        self.names.insert(name, n);
        Ok(n)
    }

    fn descriptor(&mut self, out: &mut impl Write, attr: &'a Arc<Attr>) -> std::io::Result<u64> {
        if let Some(&n) = self.by_ptr.get(&Arc::as_ptr(attr)) {
            return Ok(n);
        }
        let key = (attr.name.as_str(), attr.values.as_slice());
        let n = match self.by_content.get(&key) {
            Some(&n) => n,
            None => {
                let name = self.name(out, attr.name.as_str())?;
                let n = self.by_content.len() as u64;
                out.write_all(&[DESCRIPTOR])?;
                put_varint(out, name)?;
                put_varint(out, attr.values.len() as u64)?;
                for v in &attr.values {
                    put_bytes(out, v)?;
                }
                self.by_content.insert(key, n);
                n
            }
        };
        self.by_ptr.insert(Arc::as_ptr(attr), n);
        Ok(n)
    }

    pub(super) fn entry(&mut self, out: &mut impl Write, e: &'a Entry) -> std::io::Result<()> {
        // Names and descriptors this entry uses are defined before it.
        let mut attrs = Vec::with_capacity(e.attrs.len());
        for (key, a) in &e.attrs {
            let name = self.name(out, a.name.as_str())?;
            // Descriptors are shared values (AD's SD table): written once, then referenced.
            let sd = match e
                .attrs
                .get_shared(key)
                .filter(|_| key.as_str() == "ntsecuritydescriptor")
            {
                Some(shared) => Some(self.descriptor(out, shared)?),
                None => None,
            };
            attrs.push((name, sd, a));
        }
        let mut links = Vec::with_capacity(e.links.len());
        for (name, targets) in &e.links {
            links.push((self.name(out, name)?, targets));
        }
        out.write_all(&[ENTRY])?;
        put_varint(out, e.id.0)?;
        put_varint(out, e.parent.map_or(0, |p| p.0 + 1))?;
        put_bytes(out, e.dn.to_string().as_bytes())?;
        put_varint(out, attrs.len() as u64)?;
        for (name, sd, a) in attrs {
            put_varint(out, name)?;
            match sd {
                Some(n) => {
                    put_varint(out, 0)?;
                    put_varint(out, n)?;
                }
                None => {
                    put_varint(out, a.values.len() as u64)?;
                    for v in &a.values {
                        put_bytes(out, v)?;
                    }
                }
            }
        }
        put_varint(out, links.len() as u64)?;
        for (name, targets) in links {
            put_varint(out, name)?;
            put_varint(out, targets.len() as u64)?;
            for t in targets {
                put_varint(out, t.0)?;
            }
        }
        match &e.secrets {
            None => out.write_all(&[0]),
            Some(s) => {
                out.write_all(&[1])?;
                write_secrets(out, s)
            }
        }
    }

    pub(super) fn finish(self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&[END])
    }
}

/// An account's keys: NT hash (16 bytes), a flags byte (1: AES128 follows, 2: AES256 follows,
/// 4: previous keys follow), the AES keys, varint kvno, varint history count and 16 bytes each,
/// then the previous keys in the same form.
fn write_secrets(out: &mut impl Write, s: &AccountSecrets) -> std::io::Result<()> {
    out.write_all(&s.nt_hash)?;
    let flags = u8::from(s.aes128.is_some())
        | (u8::from(s.aes256.is_some()) << 1)
        | (u8::from(s.previous.is_some()) << 2);
    out.write_all(&[flags])?;
    if let Some(k) = &s.aes128 {
        out.write_all(k)?;
    }
    if let Some(k) = &s.aes256 {
        out.write_all(k)?;
    }
    put_varint(out, u64::from(s.kvno))?;
    put_varint(out, s.history.len() as u64)?;
    for h in &s.history {
        out.write_all(h)?;
    }
    match &s.previous {
        Some(p) => write_secrets(out, p),
        None => Ok(()),
    }
}

/// The body's reader.
struct Reader<R> {
    inp: R,
}

/// What a truncated or inconsistent body says (the checksum passed, so the writer was not adsim).
fn short() -> SnapshotFileError {
    malformed("compact body: unexpected end")
}

impl<R: BufRead> Reader<R> {
    fn byte(&mut self) -> Result<u8, SnapshotFileError> {
        let mut b = [0u8; 1];
        self.inp.read_exact(&mut b).map_err(|_| short())?;
        Ok(b[0])
    }

    fn varint(&mut self) -> Result<u64, SnapshotFileError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed("compact body: varint too long"))
    }

    /// `n` bytes, read as they arrive (a length past the data fails without a large allocation).
    fn bytes(&mut self) -> Result<Vec<u8>, SnapshotFileError> {
        let n = self.varint()?;
        let mut out = Vec::new();
        (&mut self.inp)
            .take(n)
            .read_to_end(&mut out)
            .map_err(|_| short())?;
        if out.len() as u64 != n {
            return Err(short());
        }
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotFileError> {
        let mut b = [0u8; N];
        self.inp.read_exact(&mut b).map_err(|_| short())?;
        Ok(b)
    }

    fn values(&mut self, count: u64) -> Result<Vec<Vec<u8>>, SnapshotFileError> {
        let mut values = Vec::with_capacity(count.min(64) as usize);
        for _ in 0..count {
            values.push(self.bytes()?);
        }
        Ok(values)
    }

    fn secrets(&mut self, depth: usize) -> Result<AccountSecrets, SnapshotFileError> {
        if depth > MAX_PREVIOUS {
            return Err(malformed("compact body: previous keys nested too deep"));
        }
        let nt_hash = self.array::<16>()?;
        let flags = self.byte()?;
        if flags & !7 != 0 {
            return Err(malformed("compact body: bad secrets flags"));
        }
        let aes128 = if flags & 1 != 0 {
            Some(self.array::<16>()?)
        } else {
            None
        };
        let aes256 = if flags & 2 != 0 {
            Some(self.array::<32>()?)
        } else {
            None
        };
        let kvno = u32::try_from(self.varint()?).map_err(|_| malformed("compact body: kvno"))?;
        let count = self.varint()?;
        let mut history = Vec::new();
        for _ in 0..count {
            history.push(self.array::<16>()?);
        }
        let previous = if flags & 4 != 0 {
            Some(Box::new(self.secrets(depth + 1)?))
        } else {
            None
        };
        Ok(AccountSecrets {
            nt_hash,
            aes128,
            aes256,
            kvno,
            previous,
            history,
        })
    }
}

/// Reads a version 3 body (after the header, its checksum already checked): the content
/// object's bytes and the entries.
pub(super) fn read_body(inp: impl BufRead) -> Result<(Vec<u8>, Vec<Entry>), SnapshotFileError> {
    let mut r = Reader { inp };
    let content = r.bytes()?;
    let mut names: Vec<Name> = Vec::new();
    // Each descriptor as read, then the shared attribute the first entry using it stored.
    let mut descriptors: Vec<(Attr, Option<Arc<Attr>>)> = Vec::new();
    let mut entries = Vec::new();
    let name_at = |names: &[Name], n: u64| -> Result<Name, SnapshotFileError> {
        names
            .get(n as usize)
            .cloned()
            .ok_or_else(|| malformed(format!("compact body: name #{n} is not defined")))
    };
    loop {
        match r.byte()? {
            END => break,
            NAME => {
                let text = String::from_utf8(r.bytes()?)
                    .map_err(|_| malformed("compact body: a name is not UTF-8"))?;
                if text.is_empty() {
                    return Err(malformed("compact body: an empty name"));
                }
                names.push(Name::new(&text));
            }
            DESCRIPTOR => {
                let name = name_at(&names, r.varint()?)?;
                let count = r.varint()?;
                let values = r.values(count)?;
                if values.is_empty() {
                    return Err(malformed("compact body: a descriptor without values"));
                }
                descriptors.push((Attr { name, values }, None));
            }
            ENTRY => {
                let id = EntryId(r.varint()?);
                let parent = match r.varint()? {
                    0 => None,
                    p => Some(EntryId(p - 1)),
                };
                let text = String::from_utf8(r.bytes()?)
                    .map_err(|_| malformed("compact body: a DN is not UTF-8"))?;
                let dn = Dn::parse(&text).map_err(|e| malformed(format!("{text:?}: {e}")))?;
                let mut entry = Entry::new(id, dn, parent);
                let repeated =
                    |name: &str| malformed(format!("{text}: attribute {name:?} is empty or repeated"));
                for _ in 0..r.varint()? {
                    let name = name_at(&names, r.varint()?)?;
                    let key = name.to_ascii_lowercase();
                    if entry.attrs.contains_key(key.as_str()) {
                        return Err(repeated(&name));
                    }
                    match r.varint()? {
                        0 => {
                            let n = r.varint()?;
                            let (attr, shared) = descriptors.get_mut(n as usize).ok_or_else(|| {
                                malformed(format!("compact body: descriptor #{n} is not defined"))
                            })?;
                            if attr.name.to_ascii_lowercase() != key {
                                return Err(malformed(format!("{text}: descriptor #{n} is not {name:?}")));
                            }
                            match shared {
                                Some(a) => {
                                    entry.attrs.insert(Name::new(&key), a.clone());
                                }
                                None => {
                                    entry.insert_attr(attr.clone());
                                    *shared = entry.get_shared(&key).cloned();
                                }
                            }
                        }
                        count => {
                            let values = r.values(count)?;
                            entry.insert_attr(Attr { name, values });
                        }
                    }
                }
                for _ in 0..r.varint()? {
                    let name = name_at(&names, r.varint()?)?;
                    let count = r.varint()?;
                    if *name != *name.to_ascii_lowercase() || count == 0 || entry.links.contains_key(&*name) {
                        return Err(malformed(format!("{text}: link {name:?}")));
                    }
                    let mut targets = Vec::new();
                    for _ in 0..count {
                        targets.push(EntryId(r.varint()?));
                    }
                    entry.links.insert(name.to_string(), targets);
                }
                entry.secrets = match r.byte()? {
                    0 => None,
                    1 => Some(Arc::new(r.secrets(0)?)),
                    _ => return Err(malformed(format!("{text}: bad secrets marker"))),
                };
                entries.push(entry);
            }
            tag => return Err(malformed(format!("compact body: unknown record {tag}"))),
        }
    }
    let mut rest = [0u8; 1];
    if r.inp.read(&mut rest).map_err(|_| short())? != 0 {
        return Err(malformed("compact body: bytes after the end"));
    }
    Ok((content, entries))
}
