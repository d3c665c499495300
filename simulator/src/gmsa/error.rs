use crate::kds::KdsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GmsaError {
    #[error(transparent)]
    Kds(#[from] KdsError),
    #[error("malformed msDS-ManagedPasswordId: {0}")]
    MalformedPasswordId(&'static str),
    #[error("malformed msDS-ManagedPassword blob: {0}")]
    MalformedPasswordBlob(&'static str),
    #[error("cannot encode: {0}")]
    Unencodable(&'static str),
    #[error("msDS-ManagedPasswordInterval {0} gives no usable rollover interval")]
    BadInterval(i64),
    #[error("rollover time arithmetic overflows NTTIME")]
    TimeOverflow,
}
