//! LDAP front end (RFC 4511). `codec` is the sans-I/O wire layer: framing, request decoding and
//! response encoding; `filter` is the search filter in its BER and RFC 4515 string forms;
//! `controls` gives typed request/response control values; `session` answers decoded requests
//! with typed responses, and `wire` is a connection's one path from bytes to requests and from
//! responses to bytes, through its protection (TLS or a SASL security layer); `bind` is the
//! state machine of the Sicily NTLM, SASL GSSAPI and GSS-SPNEGO binds; `cldap` answers
//! datagrams (the LDAP ping of `netlogon`, the rootDSE) on UDP.

pub mod bind;
pub mod cldap;
pub mod codec;
pub mod controls;
pub mod filter;
pub mod netlogon;
pub mod rootdse;
pub mod session;
pub mod wire;
