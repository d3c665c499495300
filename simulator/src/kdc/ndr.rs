//! The pieces of NDR (DCE 1.1 RPC ch. 14, MS-RPCE 2.2.6 type serialization version 1) that
//! the PAC's KERB_VALIDATION_INFO uses: little-endian primitives aligned to their size,
//! unique pointers as referent ids, conformant(-varying) arrays, RPC_UNICODE_STRING and RPC_SID.

use crate::security::Sid;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NdrError {
    #[error("NDR data truncated")]
    Truncated,
    #[error("bad NDR value: {0}")]
    BadValue(&'static str),
}

/// First referent id, as Windows numbers them (then +4 for each non-null pointer).
const FIRST_REFERENT: u32 = 0x0002_0000;

#[derive(Debug)]
pub struct NdrWriter {
    buf: Vec<u8>,
    next_referent: u32,
}

impl Default for NdrWriter {
    fn default() -> Self {
        NdrWriter {
            buf: Vec::new(),
            next_referent: FIRST_REFERENT,
        }
    }
}

impl NdrWriter {
    pub fn new() -> Self {
        NdrWriter::default()
    }

    pub fn align(&mut self, n: usize) {
        while self.buf.len() % n != 0 {
            self.buf.push(0);
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// FILETIME: two ULONGs (low, high), so 4-byte alignment.
    pub fn filetime(&mut self, v: u64) {
        self.u32(v as u32);
        self.u32((v >> 32) as u32);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// A unique pointer: a fresh referent id, or 0 for null.
    pub fn pointer(&mut self, present: bool) {
        if present {
            let id = self.next_referent;
            self.next_referent += 4;
            self.u32(id);
        } else {
            self.u32(0);
        }
    }

    /// RPC_UNICODE_STRING header (Length, MaximumLength in bytes, Buffer pointer).
    pub fn unicode_string_header(&mut self, s: &str) {
        let len = (s.encode_utf16().count() * 2) as u16;
        self.u16(len);
        self.u16(len);
        self.pointer(true);
    }

    /// The deferred body of an RPC_UNICODE_STRING: conformant varying WCHAR array.
    pub fn unicode_string_body(&mut self, s: &str) {
        let units: Vec<u16> = s.encode_utf16().collect();
        self.u32(units.len() as u32); // MaximumCount
        self.u32(0); // Offset
        self.u32(units.len() as u32); // ActualCount
        for u in units {
            self.u16(u);
        }
    }

    /// RPC_SID (MS-DTYP 2.4.2.3) as a conformant structure: the count comes first.
    pub fn sid(&mut self, sid: &Sid) {
        self.u32(sid.sub_authorities.len() as u32);
        self.bytes(&sid.to_bytes());
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Wraps the body in the type-serialization headers (MS-RPCE 2.2.6.1 common header,
    /// 2.2.6.2 private header) and pads it to 8 bytes.
    pub fn finish_serialized(mut self) -> Vec<u8> {
        self.align(8);
        let mut out = Vec::with_capacity(16 + self.buf.len());
        out.extend_from_slice(&[0x01, 0x10, 0x08, 0x00]); // version 1, little-endian, header length 8
        out.extend_from_slice(&0xcccc_ccccu32.to_le_bytes());
        out.extend_from_slice(&(self.buf.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&self.buf);
        out
    }
}

#[derive(Debug, Clone)]
pub struct NdrReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> NdrReader<'a> {
    /// Reads past the serialization headers and returns a reader over the body.
    pub fn from_serialized(data: &'a [u8]) -> Result<NdrReader<'a>, NdrError> {
        let header = data.get(..16).ok_or(NdrError::Truncated)?;
        if header[0] != 1 || header[1] != 0x10 {
            return Err(NdrError::BadValue("type serialization header"));
        }
        let len = u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize;
        let body = data.get(16..16 + len).ok_or(NdrError::Truncated)?;
        Ok(NdrReader { data: body, pos: 0 })
    }

    fn align(&mut self, n: usize) {
        self.pos = self.pos.div_ceil(n) * n;
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], NdrError> {
        let end = self.pos.checked_add(n).ok_or(NdrError::Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(NdrError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, NdrError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, NdrError> {
        self.align(2);
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, NdrError> {
        self.align(4);
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn filetime(&mut self) -> Result<u64, NdrError> {
        let low = self.u32()?;
        let high = self.u32()?;
        Ok(u64::from(high) << 32 | u64::from(low))
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], NdrError> {
        self.take(n)
    }

    /// A pointer: true when non-null.
    pub fn pointer(&mut self) -> Result<bool, NdrError> {
        Ok(self.u32()? != 0)
    }

    /// RPC_UNICODE_STRING header: (Length in bytes, pointer present).
    pub fn unicode_string_header(&mut self) -> Result<(u16, bool), NdrError> {
        let len = self.u16()?;
        let _max = self.u16()?;
        Ok((len, self.pointer()?))
    }

    pub fn unicode_string_body(&mut self) -> Result<String, NdrError> {
        let max = self.u32()?;
        let offset = self.u32()?;
        let actual = self.u32()?;
        if offset != 0 || actual > max {
            return Err(NdrError::BadValue("varying array bounds"));
        }
        let raw = self.take(actual as usize * 2)?;
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| NdrError::BadValue("UTF-16"))
    }

    pub fn sid(&mut self) -> Result<Sid, NdrError> {
        let count = self.u32()? as usize;
        if count > crate::security::sid::MAX_SUB_AUTHORITIES {
            return Err(NdrError::BadValue("SID sub-authority count"));
        }
        let raw = self.take(8 + 4 * count)?;
        if usize::from(raw[1]) != count {
            return Err(NdrError::BadValue("SID conformance"));
        }
        Sid::from_bytes(raw).map_err(|_| NdrError::BadValue("SID"))
    }

    /// A conformant array's MaximumCount, bounded by the bytes left (each element ≥ `elem_size`).
    pub fn array_count(&mut self, declared: u32, elem_size: usize) -> Result<usize, NdrError> {
        let count = self.u32()?;
        if count != declared {
            return Err(NdrError::BadValue("array count differs from its size_is field"));
        }
        let count = count as usize;
        if count.saturating_mul(elem_size) > self.data.len().saturating_sub(self.pos) {
            return Err(NdrError::Truncated);
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_sids_round_trip() {
        let sid: Sid = "S-1-5-21-1-2-3-1105".parse().unwrap();
        let mut w = NdrWriter::new();
        w.unicode_string_header("j€rg");
        w.unicode_string_body("j€rg");
        w.sid(&sid);
        let bytes = w.finish_serialized();
        assert_eq!(bytes.len() % 8, 0);
        let mut r = NdrReader::from_serialized(&bytes).unwrap();
        assert_eq!(r.unicode_string_header().unwrap(), (8, true));
        assert_eq!(r.unicode_string_body().unwrap(), "j€rg");
        assert_eq!(r.sid().unwrap(), sid);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut w = NdrWriter::new();
        w.u32(5);
        let bytes = w.finish_serialized();
        assert!(NdrReader::from_serialized(&bytes[..10]).is_err());
        let mut r = NdrReader::from_serialized(&bytes).unwrap();
        assert!(r.array_count(5, 8).is_err());
    }
}
