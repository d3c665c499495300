//! Key usage numbers (RFC 4120 §7.5.1), the `usage` argument of every encryption and keyed
//! checksum: the KDC, the client (`kdc::client`) and the PAC code take them from here.
//! Names follow the RFC's descriptions; 22–25 are the GSS-API per-message usages of RFC 4121 §2.

/// AS-REQ PA-ENC-TIMESTAMP padata timestamp, encrypted with the client key.
pub const AS_REQ_PA_ENC_TIMESTAMP: i32 = 1;
/// AS-REP / TGS-REP Ticket and the KDC-issued ticket's EncTicketPart, with the service key.
pub const KDC_REP_TICKET: i32 = 2;
/// AS-REP encrypted part, with the client key.
pub const AS_REP_ENC_PART: i32 = 3;
/// TGS-REQ KDC-REQ-BODY AuthorizationData, with the TGS session key.
pub const TGS_REQ_AUTH_DATA_SESSION_KEY: i32 = 4;
/// TGS-REQ KDC-REQ-BODY AuthorizationData, with the TGS authenticator subkey.
pub const TGS_REQ_AUTH_DATA_SUBKEY: i32 = 5;
/// TGS-REQ PA-TGS-REQ authenticator checksum over the request body, keyed with the session key.
pub const TGS_REQ_AUTH_CKSUM: i32 = 6;
/// TGS-REQ PA-TGS-REQ authenticator, with the TGS session key.
pub const TGS_REQ_AUTH: i32 = 7;
/// TGS-REP encrypted part, with the TGS session key.
pub const TGS_REP_ENC_PART_SESSION_KEY: i32 = 8;
/// TGS-REP encrypted part, with the TGS authenticator subkey.
pub const TGS_REP_ENC_PART_SUBKEY: i32 = 9;
/// AP-REQ authenticator checksum, keyed with the session key (not used by the 0x8003 GSS one).
pub const AP_REQ_AUTH_CKSUM: i32 = 10;
/// AP-REQ authenticator (other than in a TGS-REQ), with the application session key.
pub const AP_REQ_AUTH: i32 = 11;
/// AP-REP encrypted part, with the application session key.
pub const AP_REP_ENC_PART: i32 = 12;
/// KRB-PRIV encrypted part.
pub const KRB_PRIV_ENC_PART: i32 = 13;
/// KRB-CRED encrypted part.
pub const KRB_CRED_ENC_PART: i32 = 14;
/// KRB-SAFE checksum.
pub const KRB_SAFE_CKSUM: i32 = 15;
/// PAC signatures: KERB_NON_KERB_CKSUM_SALT (MS-PAC 2.8; one of RFC 4120's reserved 16–18).
pub const PAC_SIGNATURE: i32 = 17;
/// AD-KDCIssued checksum (RFC 4120 §5.2.6.2).
pub const AD_KDC_ISSUED_CKSUM: i32 = 19;
/// GSS-API: acceptor's Wrap token (KG-USAGE-ACCEPTOR-SEAL, RFC 4121 §2).
pub const GSS_ACCEPTOR_SEAL: i32 = 22;
/// GSS-API: acceptor's MIC token (KG-USAGE-ACCEPTOR-SIGN).
pub const GSS_ACCEPTOR_SIGN: i32 = 23;
/// GSS-API: initiator's Wrap token (KG-USAGE-INITIATOR-SEAL).
pub const GSS_INITIATOR_SEAL: i32 = 24;
/// GSS-API: initiator's MIC token (KG-USAGE-INITIATOR-SIGN).
pub const GSS_INITIATOR_SIGN: i32 = 25;
