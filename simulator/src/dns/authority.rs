//! The forest's zones behind hickory-server's `Authority` trait: hickory's `Catalog` routes a
//! query to the most specific zone, frames UDP and TCP, sets the header bits (AA=1, RA=0) and
//! answers REFUSED outside our zones; each zone answers from [`DcRecords`], read from the live
//! directory at every query.

use std::sync::Arc;

use hickory_server::authority::{
    AuthLookup, Authority, LookupControlFlow, LookupError, LookupOptions, LookupRecords, MessageRequest,
    UpdateResult, ZoneType,
};
use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::{LowerName, Record, RecordSet, RecordType};
use hickory_server::server::RequestInfo;

use super::records::{Answer, DcRecords};

/// One zone of the forest (a domain's DNS name or `_msdcs.<forest>`).
pub struct ZoneAuthority {
    origin: LowerName,
    records: Arc<DcRecords>,
}

impl ZoneAuthority {
    pub fn new(origin: LowerName, records: Arc<DcRecords>) -> ZoneAuthority {
        ZoneAuthority { origin, records }
    }
}

/// Records of one name grouped into RRsets, as hickory's lookups carry them.
fn rrsets(records: Vec<Record>) -> Vec<Arc<RecordSet>> {
    let mut sets: Vec<RecordSet> = Vec::new();
    for r in records {
        match sets.iter_mut().find(|s| s.record_type() == r.record_type()) {
            Some(s) => {
                s.insert(r, 0);
            }
            None => sets.push(RecordSet::from(r)),
        }
    }
    sets.into_iter().map(Arc::new).collect()
}

#[async_trait::async_trait]
impl Authority for ZoneAuthority {
    type Lookup = AuthLookup;

    fn zone_type(&self) -> ZoneType {
        ZoneType::Primary
    }

    /// Zone transfers are refused (a Windows DNS server's default for AD-integrated zones:
    /// "Allow zone transfers" off).
    fn is_axfr_allowed(&self) -> bool {
        false
    }

    /// Updates never reach the catalog: `dns::secure` takes every UPDATE message first (it
    /// needs the bytes for TSIG). Should one arrive here, it is refused.
    async fn update(&self, _update: &MessageRequest) -> UpdateResult<bool> {
        Err(ResponseCode::Refused)
    }

    fn origin(&self) -> &LowerName {
        &self.origin
    }

    async fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        LookupControlFlow::Break(match self.records.answer(&name.into(), rtype) {
            Answer::Records(rs) => Ok(AuthLookup::answers(
                LookupRecords::many(options, rrsets(rs)),
                None,
            )),
            Answer::NoData => Err(LookupError::NameExists),
            Answer::NxDomain => Err(LookupError::from(ResponseCode::NXDomain)),
        })
    }

    async fn search(
        &self,
        request: RequestInfo<'_>,
        options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        let rtype = request.query.query_type();
        if matches!(rtype, RecordType::AXFR | RecordType::IXFR) {
            return LookupControlFlow::Break(Err(LookupError::from(ResponseCode::Refused)));
        }
        self.lookup(request.query.name(), rtype, options).await
    }

    async fn get_nsec_records(
        &self,
        _name: &LowerName,
        _options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        // Unsigned zones: no NSEC records.
        LookupControlFlow::Continue(Ok(AuthLookup::default()))
    }
}
