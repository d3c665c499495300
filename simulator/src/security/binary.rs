//! The error type shared by the binary ACL and security-descriptor codecs, and a bounds-checked
//! little-endian reader so malformed input becomes an error instead of a panic.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    #[error("{0} is truncated")]
    Truncated(&'static str),
    #[error("security descriptor revision {0} is not 1")]
    BadDescriptorRevision(u8),
    #[error("security descriptor is not in self-relative form (SE_SELF_RELATIVE clear)")]
    NotSelfRelative,
    #[error("ACL revision {0} is neither 2 (ACL_REVISION) nor 4 (ACL_REVISION_DS)")]
    BadAclRevision(u8),
    #[error("reserved field {0} is not zero")]
    ReservedNotZero(&'static str),
    #[error("{what} offset {offset} lies outside the {len}-byte descriptor")]
    OffsetOutOfRange {
        what: &'static str,
        offset: u32,
        len: usize,
    },
    #[error("ACL size {0} is smaller than its 8-byte header")]
    AclSizeTooSmall(u16),
    #[error("ACE size {0} is too small for its contents or not a multiple of 4")]
    BadAceSize(u16),
    #[error("object ACE flags {0:#x} have bits other than the two GUID-present bits")]
    BadObjectAceFlags(u32),
    #[error("malformed SID in {0}")]
    BadSid(&'static str),
    #[error("{0} does not fit in the 16-bit size field")]
    TooLarge(&'static str),
    #[error("an object GUID is set on a non-object ACE type {0:#04x}")]
    GuidOnPlainAce(u8),
    #[error("an ACE of {0} bytes is not a multiple of 4 long (MS-DTYP 2.4.4.1)")]
    UnalignedAce(usize),
}

/// A cursor over a byte slice; every read checks bounds and names what it was reading.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], BinaryError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(BinaryError::Truncated(what))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, BinaryError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, BinaryError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, BinaryError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        out
    }
}

/// A length that must fit the 16-bit size fields of ACLs and ACEs.
pub(crate) fn size_u16(len: usize, what: &'static str) -> Result<u16, BinaryError> {
    u16::try_from(len).map_err(|_| BinaryError::TooLarge(what))
}
