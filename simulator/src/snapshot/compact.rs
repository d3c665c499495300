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
//!     2 shared             varint name, varint count, count × (varint n, n bytes): the next
//!                          shared attribute with its values, numbered from 0 — each distinct
//!                          security descriptor is written once (AD's SD table), and so is an
//!                          attribute whose values repeat across entries (see [`Writer`])
//!     3 entry              varint id, varint parent+1 (0: none), varint n, n bytes DN text,
//!                          varint attrs, each: varint name, then either 0 and varint descriptor
//!                          or varint count ≥ 1, count × (varint n, n bytes) raw values;
//!                          varint links, each: varint name, varint count, count × varint id;
//!                          secrets: 0, or 1 and [`write_secrets`]' bytes
//!     0 end                nothing may follow
//! ```
//!
//! Varints are unsigned LEB128. Values are raw bytes (no base64, no escaping); names,
//! descriptors and repeated attributes are written once and referred to by number (files
//! written before repeated attributes were shared hold only descriptors as records 2; both
//! read alike). The writer streams entry by entry
//! from the snapshot's O(1) copy of the store; the reader checks the checksum first (a flipped
//! byte or a truncated file is "corrupt: checksum mismatch"), then refuses malformed content
//! (an unknown name or descriptor number, a repeated attribute, counts past the data) with an
//! error, never a panic, and allocates only as the bytes it reads arrive.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;

use crate::model::entry::{put_varint, Values};
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

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// How much encoded body the writer gathers before handing it on (to the hasher and the file):
/// one call per chunk, not one per value.
const CHUNK: usize = 128 * 1024;

/// The body's writer: the name and shared-attribute tables so far, and the bytes not yet
/// handed on. Each entry is encoded into memory first; the output sees chunks of [`CHUNK`].
///
/// An attribute is written as a shared record (defined once, then referred to by number) when
/// it is an nTSecurityDescriptor (AD's SD table), when its content already has a record, or
/// when it repeats the content the previous entry with that attribute had (the class chain,
/// the SAM defaults, `whenCreated` within one second, …). The choice depends on the content
/// and the entries' order only, never on how memory is shared, so equal forests give equal
/// bytes.
pub(super) struct Writer<'a> {
    names: HashMap<&'a str, u64>,
    /// The previous entry's attribute names by position, with their numbers: entries of one
    /// kind list the same names, so most lookups are one pointer comparison.
    shape: Vec<(*const u8, usize, u64)>,
    /// By name number: the attribute last written under it, with its record if it had one,
    /// and whether the name has records at all.
    last: Vec<LastSeen<'a>>,
    /// Shared records by the attribute's allocation (the model keeps one per distinct content
    /// for many attributes)…
    by_ptr: HashMap<*const Attr, u64>,
    /// …and by content, which decides.
    by_content: HashMap<Content<'a>, u64>,
    buf: Vec<u8>,
    dn: String,
    /// The last parent DN met and its text: the entries below one container write its text
    /// after their RDN instead of formatting the whole DN again.
    parent: (Dn, String),
}

impl<'a> Writer<'a> {
    /// Starts the body with the content object (`content`, JSON with no entries).
    pub(super) fn start(content: &[u8]) -> Writer<'a> {
        let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
        put_bytes(&mut buf, content);
        Writer {
            names: HashMap::new(),
            shape: Vec::new(),
            last: Vec::new(),
            by_ptr: HashMap::new(),
            by_content: HashMap::new(),
            buf,
            dn: String::new(),
            parent: (Dn::root(), String::new()),
        }
    }

    fn name(&mut self, name: &'a str) -> u64 {
        if let Some(&n) = self.names.get(name) {
            return n;
        }
        let n = self.names.len() as u64;
        self.buf.push(NAME);
        put_bytes(&mut self.buf, name.as_bytes());
        self.names.insert(name, n);
        self.last.push((None, None, false));
        n
    }

    /// The number of the `i`th attribute name of the entry being written.
    fn name_at(&mut self, i: usize, name: &'a str) -> u64 {
        let here = (name.as_ptr(), name.len());
        if let Some(&(p, len, n)) = self.shape.get(i) {
            if (p, len) == here {
                // The same bytes as a name already numbered (borrowed for 'a, so not freed
                // and reused meanwhile): the same text.
                return n;
            }
        }
        let n = self.name(name);
        if i < self.shape.len() {
            self.shape[i] = (here.0, here.1, n);
        } else {
            self.shape.push((here.0, here.1, n));
        }
        n
    }

    /// The shared record for `attr` (name number `name`; `arc` the attribute's allocation when
    /// the entry keeps it as one), defining it first if needed; `None` when the attribute is
    /// written inline.
    fn shared(
        &mut self,
        name: u64,
        attr: Content<'a>,
        arc: Option<&'a Arc<Attr>>,
        always: bool,
    ) -> Option<u64> {
        let (last, last_record, has_records) = self.last[name as usize];
        let ptr = arc.map(Arc::as_ptr);
        let record = match last {
            // The same attribute as last time (the model shares many): its record, if any.
            Some((_, Some(p))) if last_record.is_some() && Some(p) == ptr => last_record,
            _ => self.record(name, attr, ptr, always, last.map(|l| l.0), has_records),
        };
        self.last[name as usize] = (Some((attr, ptr)), record, has_records || record.is_some());
        record
    }

    fn record(
        &mut self,
        name: u64,
        attr: Content<'a>,
        ptr: Option<*const Attr>,
        always: bool,
        last: Option<Content<'a>>,
        has_records: bool,
    ) -> Option<u64> {
        let repeats = last == Some(attr);
        if !has_records && !always && !repeats {
            return None;
        }
        if let Some(&n) = ptr.and_then(|p| self.by_ptr.get(&p)) {
            return Some(n);
        }
        let n = match self.by_content.get(&attr) {
            Some(&n) => n,
            None if always || repeats => {
                let n = self.by_content.len() as u64;
                self.buf.push(DESCRIPTOR);
                put_varint(&mut self.buf, name);
                put_varint(&mut self.buf, attr.values.len() as u64);
                for v in attr.values.iter() {
                    put_bytes(&mut self.buf, v);
                }
                self.by_content.insert(attr, n);
                n
            }
            None => return None,
        };
        if let Some(p) = ptr {
            self.by_ptr.insert(p, n);
        }
        Some(n)
    }

    /// `e`'s DN as text, in `self.dn`.
    fn dn_text(&mut self, e: &Entry) {
        use std::fmt::Write as _;
        self.dn.clear();
        // Formatting into a String cannot fail.
        match (e.dn.rdn(), e.dn.parent()) {
            (Some(rdn), Some(parent)) if !parent.is_root() => {
                if !parent.ptr_eq(&self.parent.0) {
                    self.parent.1.clear();
                    let _ = write!(self.parent.1, "{parent}");
                    self.parent.0 = parent;
                }
                // As `Dn`'s Display writes it: `attr=value` with the value escaped, then the
                // parent's text after a comma.
                let _ = write!(
                    self.dn,
                    "{}={},{}",
                    rdn.attr,
                    crate::model::dn::escape_value(&rdn.value),
                    self.parent.1
                );
            }
            _ => {
                let _ = write!(self.dn, "{}", e.dn);
            }
        }
    }

    pub(super) fn entry(&mut self, out: &mut impl Write, e: &'a Entry) -> std::io::Result<()> {
        // Names and shared records this entry uses are defined before it.
        let mut attrs: Vec<(u64, Option<u64>, Values<'a>)> = Vec::with_capacity(e.attrs.len());
        for (i, (key, a)) in e.attrs.iter().enumerate() {
            let name = self.name_at(i, a.name.as_str());
            let content = Content {
                name: a.name.as_str(),
                values: a.values,
            };
            let always = key.as_str() == "ntsecuritydescriptor";
            let sd = self.shared(name, content, e.attrs.get_shared(key), always);
            attrs.push((name, sd, a.values));
        }
        let mut links = Vec::with_capacity(e.links.len());
        for (name, targets) in &e.links {
            links.push((self.name(name), targets));
        }
        self.dn_text(e);
        let buf = &mut self.buf;
        buf.push(ENTRY);
        put_varint(buf, e.id.0);
        put_varint(buf, e.parent.map_or(0, |p| p.0 + 1));
        put_bytes(buf, self.dn.as_bytes());
        put_varint(buf, attrs.len() as u64);
        for (name, sd, values) in attrs {
            put_varint(buf, name);
            match sd {
                Some(n) => {
                    put_varint(buf, 0);
                    put_varint(buf, n);
                }
                None => {
                    put_varint(buf, values.len() as u64);
                    for v in values.iter() {
                        put_bytes(buf, v);
                    }
                }
            }
        }
        put_varint(buf, links.len() as u64);
        for (name, targets) in links {
            put_varint(buf, name);
            put_varint(buf, targets.len() as u64);
            for t in targets {
                put_varint(buf, t.0);
            }
        }
        match &e.secrets {
            None => buf.push(0),
            Some(s) => {
                buf.push(1);
                write_secrets(buf, s);
            }
        }
        if self.buf.len() >= CHUNK {
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub(super) fn finish(mut self, out: &mut impl Write) -> std::io::Result<()> {
        self.buf.push(END);
        out.write_all(&self.buf)
    }
}

/// Per name: the attribute last written under it (content, and its allocation when it is one),
/// its shared record if it had one, and whether the name has records at all.
type LastSeen<'a> = (Option<(Content<'a>, Option<*const Attr>)>, Option<u64>, bool);

/// An attribute's display name and values, compared and hashed by content.
#[derive(Clone, Copy)]
struct Content<'a> {
    name: &'a str,
    values: Values<'a>,
}

impl PartialEq for Content<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.values == other.values
    }
}

impl Eq for Content<'_> {}

impl std::hash::Hash for Content<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h);
        self.values.len().hash(h);
        for v in self.values.iter() {
            v.hash(h);
        }
    }
}

/// An account's keys: NT hash (16 bytes), a flags byte (1: AES128 follows, 2: AES256 follows,
/// 4: previous keys follow), the AES keys, varint kvno, varint history count and 16 bytes each,
/// then the previous keys in the same form.
fn write_secrets(out: &mut Vec<u8>, s: &AccountSecrets) {
    out.extend_from_slice(&s.nt_hash);
    let flags = u8::from(s.aes128.is_some())
        | (u8::from(s.aes256.is_some()) << 1)
        | (u8::from(s.previous.is_some()) << 2);
    out.push(flags);
    if let Some(k) = &s.aes128 {
        out.extend_from_slice(k);
    }
    if let Some(k) = &s.aes256 {
        out.extend_from_slice(k);
    }
    put_varint(out, u64::from(s.kvno));
    put_varint(out, s.history.len() as u64);
    for h in &s.history {
        out.extend_from_slice(h);
    }
    if let Some(p) = &s.previous {
        write_secrets(out, p);
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
        // Usually the bytes are already in the reader's buffer: one copy, sized exactly.
        if let Ok(buffered) = self.inp.fill_buf() {
            if let Some(b) = usize::try_from(n).ok().and_then(|n| buffered.get(..n)) {
                let out = b.to_vec();
                self.inp.consume(out.len());
                return Ok(out);
            }
        }
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
    // Each name as written and lower-cased (the key entries store it under), made once.
    let mut names: Vec<(Name, Name)> = Vec::new();
    // Each shared record as read with its key, then the shared attribute the first entry
    // using it stored.
    let mut descriptors: Vec<(Attr, Name, Option<Arc<Attr>>)> = Vec::new();
    let mut entries = Vec::new();
    let name_at = |names: &[(Name, Name)], n: u64| -> Result<(Name, Name), SnapshotFileError> {
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
                names.push((Name::new(&text), Name::new(&text.to_ascii_lowercase())));
            }
            DESCRIPTOR => {
                let (name, key) = name_at(&names, r.varint()?)?;
                let count = r.varint()?;
                let values = r.values(count)?;
                if values.is_empty() {
                    return Err(malformed("compact body: a descriptor without values"));
                }
                descriptors.push((Attr { name, values }, key, None));
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
                    let (name, key) = name_at(&names, r.varint()?)?;
                    if entry.attrs.contains_key(key.as_str()) {
                        return Err(repeated(&name));
                    }
                    match r.varint()? {
                        0 => {
                            let n = r.varint()?;
                            let (attr, attr_key, shared) =
                                descriptors.get_mut(n as usize).ok_or_else(|| {
                                    malformed(format!("compact body: descriptor #{n} is not defined"))
                                })?;
                            if *attr_key != key {
                                return Err(malformed(format!("{text}: descriptor #{n} is not {name:?}")));
                            }
                            match shared {
                                Some(a) => {
                                    entry.attrs.insert(key, a.clone());
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
                    let (name, key) = name_at(&names, r.varint()?)?;
                    let count = r.varint()?;
                    if name != key || count == 0 || entry.links.contains_key(key.as_str()) {
                        return Err(malformed(format!("{text}: link {name:?}")));
                    }
                    let mut targets = Vec::new();
                    for _ in 0..count {
                        targets.push(EntryId(r.varint()?));
                    }
                    entry.links.insert(key.to_string(), targets);
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
