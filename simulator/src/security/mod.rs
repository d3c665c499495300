//! SIDs, GUIDs, security descriptors, tokens and the access check (MS-DTYP).

pub mod access;
pub mod acl;
pub mod binary;
pub mod descriptor;
pub mod extended;
pub mod guid;
pub mod inherit;
pub mod rights;
pub mod sddl;
pub mod sid;
pub mod token;
pub mod well_known;

pub use access::{access_check, access_check_path, is_granted, maximum_allowed, AccessDenied};
pub use acl::{Ace, AceFlags, AceType, Acl, OpaqueAce, StandardAce};
pub use binary::BinaryError;
pub use descriptor::SecurityDescriptor;
pub use sddl::{SddlContext, SddlError};
pub use sid::Sid;
pub use token::Token;
pub use well_known::AliasDomains;
