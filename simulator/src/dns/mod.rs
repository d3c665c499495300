//! DNS for the forest's zones, as the DNS server of an AD domain controller serves them:
//! `records` computes what a DC registers (MS-ADTS 6.3.2) from the live directory, sans I/O;
//! `authority` puts each zone behind hickory-server's `Authority`, whose `Catalog` answers
//! queries; `secure` takes UPDATE, TKEY and TSIG (secure dynamic update, RFC 2136/2930/3645/
//! 8945: `tsig`, `tkey`, `update`), storing names as AD-integrated zones do (`node`). The
//! server (`server::dns`) hands every message's bytes to `secure` first, for UDP and TCP alike.

pub mod authority;
pub mod node;
pub mod records;
pub mod secure;
pub mod tkey;
pub mod tsig;
pub mod update;

use std::sync::Arc;

use hickory_server::authority::Catalog;
use hickory_server::proto::rr::LowerName;

pub use records::{Answer, DcPorts, DcRecords};

/// A catalog with one authority per zone of `records`.
pub fn catalog(records: Arc<DcRecords>) -> Catalog {
    let mut catalog = Catalog::new();
    for zone in records.zones() {
        let origin = LowerName::from(&zone);
        let authority = authority::ZoneAuthority::new(origin.clone(), records.clone());
        catalog.upsert(origin, vec![Arc::new(authority)]);
    }
    catalog
}
